from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.profile import profile_lines


class MeApi(APIView):
    """The signed-in person and their roles."""

    class MeOutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        username = serializers.CharField()
        display_name = serializers.CharField()
        phone = serializers.CharField()
        is_federation_admin = serializers.BooleanField()
        roles = serializers.ListField(child=serializers.CharField())

    @extend_schema(responses=MeOutputSerializer)
    def get(self, request):
        user = request.user
        data = {"id": user.pk, "username": user.username, "display_name": user.display_name,
                "phone": user.phone, "is_federation_admin": user.is_federation_admin,
                "roles": profile_lines(user)}
        return Response(self.MeOutputSerializer(data).data)
