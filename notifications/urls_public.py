"""Public notifications routes (no practice slug, no login): the Twilio webhook, signature-checked."""

from django.urls import path

from notifications import views as v

urlpatterns = [
    path("webhooks/twilio/sms/", v.twilio_inbound_sms, name="twilio_inbound_sms"),
]
