"""The inbox over the API (JSON): the signed-in person's notifications and which kinds
also come by text message. Another person's notification is 404."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import PageQuerySerializer, StrictBooleanField, valid
from notifications import selectors, services
from notifications.links import target_url
from notifications.models import Kind


class NotificationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=Kind.choices)
    title = serializers.CharField()
    body = serializers.CharField()
    link = serializers.CharField(help_text="The page's path on the domain of `bank` "
                                           "(empty: none).")
    url = serializers.CharField(help_text="Where the link opens from this domain: the path, "
                                          "or a full address on the bank's own domain.")
    bank = serializers.CharField(allow_null=True, help_text="The bank's code, or null.")
    read = serializers.BooleanField()
    read_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()


class NotificationPageSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    unread = serializers.IntegerField(help_text="Unread notifications in all.")
    page = serializers.IntegerField()
    pages = serializers.IntegerField()
    results = NotificationSerializer(many=True)


def _data(request, row) -> dict:
    return {"id": row.pk, "kind": row.kind, "title": row.title, "body": row.body,
            "link": row.link, "url": target_url(request, row),
            "bank": row.bank.code if row.bank_id else None, "read": row.read_at is not None,
            "read_at": row.read_at, "created_at": row.created_at}


class NotificationListApi(APIView):
    @extend_schema(operation_id="me_notifications_list", parameters=[PageQuerySerializer],
                   responses=NotificationPageSerializer,
                   description="My notifications, newest first, and how many are unread.")
    def get(self, request):
        query = valid(PageQuerySerializer, request.query_params)
        paginator = Paginator(selectors.inbox_of(user=request.user), query["per_page"])
        page = paginator.get_page(query["page"])
        return Response(NotificationPageSerializer({
            "total": paginator.count, "unread": selectors.unread_count(user=request.user),
            "page": page.number, "pages": paginator.num_pages,
            "results": [_data(request, row) for row in page.object_list]}).data)


class NotificationReadApi(APIView):
    @extend_schema(operation_id="me_notifications_read", request=None,
                   responses=NotificationSerializer,
                   description="Mark one of my notifications read (again: no change).")
    def post(self, request, notification_id: int):
        try:
            row = selectors.notification_of(user=request.user,
                                            notification_id=notification_id)
        except Http404:
            raise exceptions.NotFound from None
        services.notification_read(notification=row)
        return Response(NotificationSerializer(_data(request, row)).data)


class NotificationReadAllApi(APIView):
    class ReadAllOutputSerializer(serializers.Serializer):
        marked = serializers.IntegerField(help_text="How many were unread.")

    @extend_schema(operation_id="me_notifications_read_all", request=None,
                   responses=ReadAllOutputSerializer,
                   description="Mark all my notifications read.")
    def post(self, request):
        marked = services.notifications_read_all(user=request.user)
        return Response(self.ReadAllOutputSerializer({"marked": marked}).data)


class PreferenceSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=Kind.choices)
    label = serializers.CharField(read_only=True)
    by_text = StrictBooleanField(help_text="Also sent by text message to my phone.")


class PreferencesSerializer(serializers.Serializer):
    preferences = PreferenceSerializer(many=True)


class PreferencesInputSerializer(serializers.Serializer):
    class Item(serializers.Serializer):
        kind = serializers.ChoiceField(choices=Kind.choices)
        by_text = StrictBooleanField()

    preferences = Item(many=True, help_text="Kinds not named keep their setting.")


class NotificationSettingsApi(APIView):
    def _answer(self, request):
        rows = selectors.preferences_of(user=request.user)
        return Response(PreferencesSerializer({"preferences": [
            {"kind": p.kind, "label": p.label, "by_text": p.by_text} for p in rows]}).data)

    @extend_schema(operation_id="me_notification_settings_retrieve",
                   responses=PreferencesSerializer,
                   description="Which kinds of notification also come by text message "
                               "(the kinds that can reach me).")
    def get(self, request):
        return self._answer(request)

    @extend_schema(operation_id="me_notification_settings_update",
                   request=PreferencesInputSerializer, responses=PreferencesSerializer)
    def put(self, request):
        data = valid(PreferencesInputSerializer, request.data)
        services.preferences_set(user=request.user, by_text={
            item["kind"]: item["by_text"] for item in data["preferences"]})
        return self._answer(request)
