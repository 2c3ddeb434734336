"""Tencent Cloud SMS (腾讯云短信) through its own SDK, tencentcloud-sdk-python-sms.

Selected with SMS_BACKEND=accounts.sms_tencent.TencentCloudSmsBackend and configured from the environment
(README, Configuration). Codes use a template with two parameters, the code and its validity in minutes;
the notice of a changed reserved phone uses a template without parameters. Both templates and the
signature must be approved in the Tencent Cloud console first.
"""

from django.conf import settings
from tencentcloud.common import credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.sms.v20210111 import models, sms_client

from .sms import SmsError

MAINLAND = "+86"


class TencentCloudSmsBackend:
    def __init__(self):
        self.client = sms_client.SmsClient(
            credential.Credential(settings.TENCENTCLOUD_SECRET_ID, settings.TENCENTCLOUD_SECRET_KEY),
            settings.TENCENT_SMS_REGION,
        )

    def send(self, message):
        request = models.SendSmsRequest()
        request.SmsSdkAppId = settings.TENCENT_SMS_SDK_APP_ID
        request.SignName = settings.TENCENT_SMS_SIGN_NAME
        request.PhoneNumberSet = [MAINLAND + message.to]
        if message.code:
            request.TemplateId = settings.TENCENT_SMS_CODE_TEMPLATE_ID
        else:
            request.TemplateId = settings.TENCENT_SMS_PHONE_CHANGED_TEMPLATE_ID
        request.TemplateParamSet = list(message.parameters)
        try:
            response = self.client.SendSms(request)
        except TencentCloudSDKException as error:
            raise SmsError(f"{error.get_code()}: {error.get_message()}") from error
        # One status per number; "Ok" is the only success.
        status = response.SendStatusSet[0]
        if status.Code != "Ok":
            raise SmsError(f"{status.Code}: {status.Message}")
