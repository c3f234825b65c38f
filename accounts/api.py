from django.core.exceptions import PermissionDenied
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import selectors, services
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


class TokenOutputSerializer(serializers.Serializer):
    key = serializers.CharField(source="token_key", help_text="The token's first characters.")
    created = serializers.DateTimeField()
    expiry = serializers.DateTimeField(allow_null=True)


class TokenListApi(APIView):
    """The caller's API tokens: list them, or create one (the token is in the answer
    once and never again)."""

    class CreatedSerializer(TokenOutputSerializer):
        token = serializers.CharField(help_text="Send as `Authorization: Token <token>`.")

    @extend_schema(responses=TokenOutputSerializer(many=True))
    def get(self, request):
        return Response(TokenOutputSerializer(
            selectors.api_token_list(user=request.user), many=True).data)

    @extend_schema(request=None, responses={201: CreatedSerializer})
    def post(self, request):
        row, token = services.api_token_create(user=request.user)
        data = dict(TokenOutputSerializer(row).data, token=token)
        return Response(data, status=status.HTTP_201_CREATED)


class TokenDetailApi(APIView):
    @extend_schema(responses={204: None})
    def delete(self, request, key: str):
        if not services.api_token_revoke(user=request.user, token_key=key):
            raise exceptions.NotFound
        return Response(status=status.HTTP_204_NO_CONTENT)


class SignInUnlockApi(APIView):
    """Bank admins (on their bank's domain) and federation admins (on the portal) clear
    an account's failed sign-ins; federation admins also an address's. Anyone else gets
    404, as if there were no such operation."""

    error_statuses = {400, 401, 403, 404, 409}

    class SignInUnlockInputSerializer(serializers.Serializer):
        username = serializers.CharField(required=False, allow_blank=True, max_length=150,
                                         help_text="Username or mobile number.")
        address = serializers.IPAddressField(required=False, allow_blank=True)

    class SignInUnlockOutputSerializer(serializers.Serializer):
        cleared = serializers.IntegerField()

    @extend_schema(request=SignInUnlockInputSerializer, responses=SignInUnlockOutputSerializer)
    def post(self, request):
        data = self.SignInUnlockInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            cleared = services.sign_in_unlock(
                actor=request.user, bank=getattr(request, "bank", None),
                identifier=data.validated_data.get("username", ""),
                address=data.validated_data.get("address", ""))
        except PermissionDenied:
            raise exceptions.NotFound
        return Response(self.SignInUnlockOutputSerializer({"cleared": cleared}).data)
