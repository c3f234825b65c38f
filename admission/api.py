"""Admission API: applying (any signed-in person, on the bank's domain) and the bank
staff's actions. Every id goes through a bank-scoped selector: other banks' are 404."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from admission import selectors, services
from admission.models import Dossier, LicenceKind, Verdict
from admission.services import DECISIONS, STAFF_ROLES
from banks.permissions import IsBankStaff
from catalog import selectors as catalog_selectors
from catalog import services as catalog_services
from catalog.models import MerchantKind
from catalog.serializers import MerchantBriefSerializer, ProductCardSerializer
from core import uploads
from core.api import valid
from core.uploads import UploadSerializerField


class MerchantStateSerializer(MerchantBriefSerializer):
    class Meta(MerchantBriefSerializer.Meta):
        fields = [*MerchantBriefSerializer.Meta.fields, "status", "status_reason",
                  "status_changed_at", "is_featured"]


class FileStateSerializer(serializers.Serializer):
    present = serializers.BooleanField()
    quarantined = serializers.BooleanField()
    original_name = serializers.CharField()


class LicenceStateSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=LicenceKind.choices)
    number = serializers.CharField()
    expires_on = serializers.DateField()
    scan = serializers.SerializerMethodField()

    def get_scan(self, obj) -> FileStateSerializer:
        return _file_state(obj, "document")


class DossierSerializer(serializers.ModelSerializer):
    licences = serializers.SerializerMethodField()
    inspections = serializers.SerializerMethodField()
    events = serializers.SerializerMethodField()
    open_flags = serializers.SerializerMethodField()

    documents = serializers.SerializerMethodField()

    class Meta:
        model = Dossier
        fields = ["uscc", "legal_rep_name", "legal_rep_id_masked", "contact_phone",
                  "address", "next_review_due", "licences", "inspections", "documents",
                  "events", "open_flags"]

    def get_licences(self, obj) -> list[dict]:
        return [{"id": x.pk, "kind": x.kind, "number": x.number, "expires_on": x.expires_on,
                 "scan": _file_state(x, "document")} for x in obj.licences.all()]

    def get_inspections(self, obj) -> list[dict]:
        return [{"id": x.pk, "inspected_on": x.inspected_on, "inspector": x.inspector.username,
                 "verdict": x.verdict, "findings": x.findings,
                 "photo": _file_state(x, "photo")} for x in obj.inspections.all()]

    def get_documents(self, obj) -> list[dict]:
        return [{"id": x.pk, "title": x.title, "uploaded_at": x.uploaded_at,
                 "file": _file_state(x, "file")} for x in obj.documents.all()]

    def get_events(self, obj) -> list[dict]:
        return [{"at": x.created_at, "actor": x.actor.username if x.actor else None,
                 "action": x.action, "from": x.from_status, "to": x.to_status,
                 "reason": x.reason} for x in obj.events.all()]

    def get_open_flags(self, obj) -> list[dict]:
        return [{"kind": f.kind, "detail": f.detail, "raised_on": f.raised_on}
                for f in obj.flags.all() if f.resolved_at is None]


def _file_state(item, field: str) -> dict:
    """A stored file as the API shows it: present, quarantined (upload it again), the name
    it was uploaded under. The file itself is read through the console's private page."""
    return {"present": bool(getattr(item, field)),
            "quarantined": uploads.is_quarantined(item, field),
            "original_name": uploads.original_name(item, field)}


class LicenceInputSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=LicenceKind.choices)
    number = serializers.CharField(max_length=60)
    expires_on = serializers.DateField()


class ApplyApi(APIView):
    permission_classes = [IsAuthenticated]

    class ApplyInputSerializer(serializers.Serializer):
        shop_name = serializers.CharField(max_length=100)
        kind = serializers.ChoiceField(choices=MerchantKind.choices)
        county = serializers.CharField(max_length=60)
        township = serializers.CharField(max_length=60, required=False, default="")
        intro = serializers.CharField(required=False, default="", allow_blank=True)
        uscc = serializers.CharField(max_length=18)
        legal_rep_name = serializers.CharField(max_length=60)
        legal_rep_id = serializers.CharField(max_length=18)
        contact_phone = serializers.CharField(max_length=11)
        address = serializers.CharField(max_length=200)
        licences = LicenceInputSerializer(many=True)

    @extend_schema(request=ApplyInputSerializer, responses={201: MerchantStateSerializer})
    def post(self, request):
        if request.bank is None:
            raise NotFound
        data = valid(self.ApplyInputSerializer, request.data)
        data["licences"] = [services.LicenceSpec(**lic) for lic in data["licences"]]
        dossier = services.admission_apply(bank=request.bank, applicant=request.user, **data)
        merchant = catalog_selectors.bank_merchant(bank=request.bank,
                                                   merchant_id=dossier.merchant_id)
        return Response(MerchantStateSerializer(merchant).data, status=status.HTTP_201_CREATED)


class _StaffApi(APIView):
    permission_classes = [IsBankStaff]
    staff_roles = STAFF_ROLES


class AdmissionQueueApi(_StaffApi):
    class QuerySerializer(serializers.Serializer):
        tab = serializers.ChoiceField(choices=list(selectors.QUEUE_TABS), required=False,
                                      default="queue")

    @extend_schema(parameters=[QuerySerializer], responses=MerchantStateSerializer(many=True))
    def get(self, request):
        tab = valid(self.QuerySerializer, request.query_params)["tab"]
        return Response(MerchantStateSerializer(
            selectors.admission_queue(bank=request.bank, tab=tab).select_related("bank"),
            many=True).data)


class DossierApi(_StaffApi):
    class DossierOutputSerializer(serializers.Serializer):
        merchant = MerchantStateSerializer()
        dossier = DossierSerializer()
        allowed_actions = serializers.ListField(child=serializers.CharField())

    @extend_schema(responses=DossierOutputSerializer)
    def get(self, request, merchant_id: int):
        merchant, dossier = selectors.dossier_for_bank(bank=request.bank,
                                                       merchant_id=merchant_id)
        return Response(self.DossierOutputSerializer({
            "merchant": merchant, "dossier": dossier,
            "allowed_actions": catalog_services.merchant_allowed_actions(merchant)}).data)


class InspectionApi(_StaffApi):
    parser_classes = [JSONParser, MultiPartParser]   # the photo comes as multipart

    class InspectionInputSerializer(serializers.Serializer):
        inspected_on = serializers.DateField()
        findings = serializers.CharField()
        verdict = serializers.ChoiceField(choices=Verdict.choices)
        photo = UploadSerializerField(policy="image", required=False)

    @extend_schema(request={"application/json": InspectionInputSerializer,
                            "multipart/form-data": InspectionInputSerializer},
                   responses={201: DossierSerializer})
    def post(self, request, merchant_id: int):
        _merchant, dossier = selectors.dossier_for_bank(bank=request.bank,
                                                        merchant_id=merchant_id)
        data = valid(self.InspectionInputSerializer, request.data)
        services.inspection_record(dossier=dossier, inspector=request.user,
                                   **data)
        return Response(DossierSerializer(dossier).data, status=status.HTTP_201_CREATED)


class DocumentApi(_StaffApi):
    """Add a document to a merchant's dossier (multipart/form-data)."""

    parser_classes = [MultiPartParser]

    class DocumentInputSerializer(serializers.Serializer):
        title = serializers.CharField(max_length=100)
        file = UploadSerializerField(policy="scan")

    @extend_schema(request={"multipart/form-data": DocumentInputSerializer},
                   responses={201: DossierSerializer})
    def post(self, request, merchant_id: int):
        _merchant, dossier = selectors.dossier_for_bank(bank=request.bank,
                                                        merchant_id=merchant_id)
        data = valid(self.DocumentInputSerializer, request.data)
        services.document_add(dossier=dossier, actor=request.user,
                              **data)
        _merchant, dossier = selectors.dossier_for_bank(bank=request.bank,
                                                        merchant_id=merchant_id)
        return Response(DossierSerializer(dossier).data, status=status.HTTP_201_CREATED)


class LicenceScanApi(APIView):
    """The merchant's owner uploads a licence scan (again, after a quarantine)."""

    permission_classes = [IsAuthenticated]
    parser_classes = [MultiPartParser]

    class ScanSerializer(serializers.Serializer):
        document = UploadSerializerField(policy="scan")

    @extend_schema(request={"multipart/form-data": ScanSerializer},
                   responses=LicenceStateSerializer(many=True))
    def put(self, request, merchant_id: int, licence_id: int):
        if request.bank is None:
            raise NotFound
        _merchant, dossier = selectors.dossier_for_member(
            user=request.user, bank=request.bank, merchant_id=merchant_id)
        data = valid(self.ScanSerializer, request.data)
        services.licence_set_scan(dossier=dossier, licence_id=licence_id, actor=request.user,
                                  document=data["document"])
        return Response(LicenceStateSerializer(dossier.licences.all(), many=True).data)


class DecisionApi(_StaffApi):
    class DecisionInputSerializer(serializers.Serializer):
        action = serializers.ChoiceField(choices=list(DECISIONS))
        reason = serializers.CharField(max_length=300, required=False, default="",
                                       allow_blank=True)

    @extend_schema(request=DecisionInputSerializer, responses=MerchantStateSerializer)
    def post(self, request, merchant_id: int):
        _merchant, dossier = selectors.dossier_for_bank(bank=request.bank,
                                                        merchant_id=merchant_id)
        data = valid(self.DecisionInputSerializer, request.data)
        action = data["action"]
        kwargs = {"dossier": dossier, "actor": request.user}
        if action in {"reject", "suspend", "reinstate"}:
            kwargs["reason"] = data["reason"]
        merchant = DECISIONS[action](**kwargs)
        return Response(MerchantStateSerializer(merchant).data)


class ListingQueueApi(_StaffApi):
    @extend_schema(responses=ProductCardSerializer(many=True))
    def get(self, request):
        return Response(ProductCardSerializer(
            catalog_selectors.listing_review_queue(bank=request.bank)
            .select_related("merchant__bank"), many=True).data)


class ListingDecisionApi(_StaffApi):
    class ListingDecisionInputSerializer(serializers.Serializer):
        action = serializers.ChoiceField(choices=["approve_listing", "reject_listing",
                                                  "delist"])
        reason = serializers.CharField(max_length=300, required=False, default="",
                                       allow_blank=True)

    @extend_schema(request=ListingDecisionInputSerializer, responses=ProductCardSerializer)
    def post(self, request, product_id: int):
        product = catalog_selectors.bank_product(bank=request.bank, product_id=product_id)
        data = valid(self.ListingDecisionInputSerializer, request.data)
        services.listing_decide(product=product, actor=request.user,
                                **data)
        return Response({"id": product.pk, "status": product.status})
