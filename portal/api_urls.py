"""/api/v1/ routes of portal secure messages, staff side (included from practice/api_urls.py)."""

from django.urls import path

from portal import api

urlpatterns = [
    path(
        "message-threads/",
        api.MessageThreadViewSet.as_view({"get": "list", "post": "create"}),
        name="api_message_thread_list",
    ),
    path(
        "message-threads/<uuid:public_id>/",
        api.MessageThreadViewSet.as_view({"get": "retrieve"}),
        name="api_message_thread_detail",
    ),
    path(
        "message-threads/<uuid:public_id>/reply/",
        api.MessageThreadViewSet.as_view({"post": "reply"}),
        name="api_message_thread_reply",
    ),
]
