from django.conf import settings
from django.core.exceptions import PermissionDenied
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import selectors, services
from accounts.models import Address, ConsentPurpose, Division, Segment
from accounts.password_codes import password_code_send, password_code_set
from accounts.profile import profile_lines
from core.api import StrictBooleanField, valid


class MeApi(APIView):
    """The signed-in person and their roles; PATCH changes their own details."""

    class MeOutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        username = serializers.CharField()
        display_name = serializers.CharField()
        phone = serializers.CharField()
        email = serializers.CharField()
        segment = serializers.CharField(help_text="customer group; empty: not stated")
        segment_label = serializers.CharField()
        language = serializers.CharField(
            help_text="language of the person's notifications; empty: the platform's")
        is_federation_admin = serializers.BooleanField()
        roles = serializers.ListField(child=serializers.CharField())

    class MeInputSerializer(serializers.Serializer):
        display_name = serializers.CharField(max_length=60, required=False, allow_blank=True)
        phone = serializers.CharField(max_length=11, required=False, allow_blank=True)
        email = serializers.EmailField(required=False, allow_blank=True)
        segment = serializers.ChoiceField(choices=Segment.choices,
                                          required=False, allow_blank=True)
        language = serializers.ChoiceField(choices=settings.LANGUAGES, required=False)

    def _data(self, user) -> dict:
        return self.MeOutputSerializer({
            "id": user.pk, "username": user.username, "display_name": user.display_name,
            "phone": user.phone, "email": user.email, "segment": user.segment,
            "segment_label": user.get_segment_display() if user.segment else "",
            "language": user.language,
            "is_federation_admin": user.is_federation_admin,
            "roles": profile_lines(user)}).data

    @extend_schema(responses=MeOutputSerializer)
    def get(self, request):
        return Response(self._data(request.user))

    @extend_schema(request=MeInputSerializer, responses=MeOutputSerializer)
    def patch(self, request):
        user = request.user
        data = valid(self.MeInputSerializer, request.data)
        services.user_update_profile(
            user=user, display_name=data.get("display_name", user.display_name),
            phone=data.get("phone", user.phone), email=data.get("email", user.email),
            segment=data.get("segment"), language=data.get("language"))
        return Response(self._data(user))


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
        data = valid(self.SignInUnlockInputSerializer, request.data)
        try:
            cleared = services.sign_in_unlock(
                actor=request.user, bank=getattr(request, "bank", None),
                identifier=data.get("username", ""),
                address=data.get("address", ""))
        except PermissionDenied:
            raise exceptions.NotFound
        return Response(self.SignInUnlockOutputSerializer({"cleared": cleared}).data)


# --- address book --------------------------------------------------------------------------


class DivisionSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    level = serializers.IntegerField(help_text="1 province, 2 city, 3 county, 4 township")


class DivisionListApi(APIView):
    """China's administrative divisions, one level at a time: the provinces, or the
    divisions directly under `parent` (the address book's pickers read it)."""

    permission_classes = [AllowAny]
    error_statuses = {400, 401, 404}   # 404: an unknown parent

    class DivisionQuerySerializer(serializers.Serializer):
        parent = serializers.RegexField(r"^\d{2,12}$", required=False, default="",
                                        help_text="a division's code; empty: provinces")

    @extend_schema(parameters=[DivisionQuerySerializer],
                   responses={200: DivisionSerializer(many=True)})
    def get(self, request):
        query = valid(self.DivisionQuerySerializer, request.query_params)
        try:
            rows = selectors.division_children(parent=query["parent"])
        except Division.DoesNotExist:
            raise exceptions.NotFound
        return Response(DivisionSerializer(rows, many=True).data)


class AddressSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    recipient_name = serializers.CharField()
    recipient_phone = serializers.CharField()
    division = serializers.CharField(source="division_id", help_text="the township's code")
    region = serializers.CharField(help_text="the divisions as written on a parcel")
    path = DivisionSerializer(many=True, help_text="province down to the township")
    detail = serializers.CharField()
    is_default = serializers.BooleanField()


class AddressInputSerializer(serializers.Serializer):
    recipient_name = serializers.CharField(max_length=40)
    recipient_phone = serializers.CharField(max_length=11, help_text="a mainland mobile")
    division = serializers.RegexField(r"^\d{9}$|^\d{6}$", help_text=(
        "the township's code (a county's when it has no townships); pick it with "
        "GET divisions/"))
    detail = serializers.CharField(max_length=120, help_text="village, street and number")
    is_default = StrictBooleanField(required=False, default=False)


def _spec(data: dict) -> services.AddressSpec:
    return services.AddressSpec(**data)


class AddressListApi(APIView):
    """The caller's address book (at most 20 entries, the default first)."""

    @extend_schema(responses=AddressSerializer(many=True))
    def get(self, request):
        return Response(AddressSerializer(selectors.addresses_of(user=request.user),
                                          many=True).data)

    @extend_schema(request=AddressInputSerializer, responses={201: AddressSerializer})
    def post(self, request):
        data = valid(AddressInputSerializer, request.data)
        entry = services.address_create(user=request.user, spec=_spec(data))
        return Response(AddressSerializer(
            selectors.address_of(user=request.user, address_id=entry.pk)).data,
            status=status.HTTP_201_CREATED)


class AddressDetailApi(APIView):
    """One entry of the caller's own address book (anyone else's: 404)."""

    @extend_schema(responses=AddressSerializer)
    def get(self, request, address_id: int):
        try:
            entry = selectors.address_of(user=request.user, address_id=address_id)
        except Address.DoesNotExist:
            raise exceptions.NotFound
        return Response(AddressSerializer(entry).data)

    @extend_schema(request=AddressInputSerializer, responses=AddressSerializer)
    def put(self, request, address_id: int):
        data = valid(AddressInputSerializer, request.data)
        try:
            services.address_update(user=request.user, address_id=address_id,
                                    spec=_spec(data))
        except Address.DoesNotExist:
            raise exceptions.NotFound
        return Response(AddressSerializer(
            selectors.address_of(user=request.user, address_id=address_id)).data)

    @extend_schema(responses={204: None})
    def delete(self, request, address_id: int):
        try:
            services.address_delete(user=request.user, address_id=address_id)
        except Address.DoesNotExist:
            raise exceptions.NotFound
        return Response(status=status.HTTP_204_NO_CONTENT)


class AddressDefaultApi(APIView):
    @extend_schema(request=None, responses=AddressSerializer,
                   description="Make this entry the default address.")
    def post(self, request, address_id: int):
        try:
            services.address_set_default(user=request.user, address_id=address_id)
        except Address.DoesNotExist:
            raise exceptions.NotFound
        return Response(AddressSerializer(
            selectors.address_of(user=request.user, address_id=address_id)).data)


class PasswordCodeApi(APIView):
    """Ask for a code texted to the account's mobile number (202 whether or not an account
    has it; 400 for a malformed number or too many asks)."""

    permission_classes = [AllowAny]
    authentication_classes: list = []

    class PasswordCodeAskSerializer(serializers.Serializer):
        phone = serializers.CharField(max_length=20)

    @extend_schema(request=PasswordCodeAskSerializer, responses={202: None})
    def post(self, request):
        data = valid(self.PasswordCodeAskSerializer, request.data)
        password_code_send(phone=data["phone"],
                           client_address=request.META.get("REMOTE_ADDR", ""))
        return Response(status=status.HTTP_202_ACCEPTED)


class PasswordCodeSetApi(APIView):
    """Set the password with the texted code (204); 400 on ``code`` (wrong, expired, used
    or too many wrong tries) or ``password`` (too weak; the code stays usable)."""

    permission_classes = [AllowAny]
    authentication_classes: list = []

    class PasswordCodeSetSerializer(serializers.Serializer):
        phone = serializers.CharField(max_length=20)
        code = serializers.CharField(max_length=6)
        password = serializers.CharField(max_length=128, trim_whitespace=False)

    @extend_schema(request=PasswordCodeSetSerializer, responses={204: None})
    def post(self, request):
        data = valid(self.PasswordCodeSetSerializer, request.data)
        password_code_set(phone=data["phone"], code=data["code"], password=data["password"])
        return Response(status=status.HTTP_204_NO_CONTENT)


class ConsentSerializer(serializers.Serializer):
    purpose = serializers.CharField()
    purpose_label = serializers.CharField(source="get_purpose_display")
    bank = serializers.CharField(source="bank.code", allow_null=True, default=None)
    granted_at = serializers.DateTimeField()


class ConsentListApi(APIView):
    """The signed-in person's live consents (privacy notice, behaviour data, each bank's
    credit use)."""

    @extend_schema(responses=ConsentSerializer(many=True))
    def get(self, request):
        return Response(ConsentSerializer(selectors.consents_of(user=request.user),
                                          many=True).data)


class BehaviourConsentApi(APIView):
    """Give (``given: true``) or withdraw the consent to record browsing and purchases
    under the account; withdrawing stops the recording at once."""

    class BehaviourInputSerializer(serializers.Serializer):
        given = StrictBooleanField()

    @extend_schema(request=BehaviourInputSerializer, responses=ConsentSerializer(many=True))
    def put(self, request):
        data = valid(self.BehaviourInputSerializer, request.data)
        if data["given"]:
            services.consent_grant(user=request.user, purpose=ConsentPurpose.BEHAVIOUR,
                                   source="api")
        else:
            services.consent_withdraw(user=request.user, purpose=ConsentPurpose.BEHAVIOUR)
        return Response(ConsentSerializer(selectors.consents_of(user=request.user),
                                          many=True).data)
