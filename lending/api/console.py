"""The bank's credit officers (and bank admins): the queue and decisions, profiles,
scoring runs, portfolio, loans, write-off and the bank's parameters."""

from __future__ import annotations

from django.db import transaction
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from banks.models import StaffRole
from banks.permissions import IsBankStaff, require_bank_staff
from core.api import PageQuerySerializer, valid
from lending import selectors, services
from lending.api._common import (
    LoanQuerySerializer,
    _context,
    _dues,
    _loan_detail,
    _not_found_as_404,
    _page,
)
from lending.models import (
    Application,
    ApplicationStatus,
    CreditProfile,
    PartyKind,
    Product,
    ScoringRun,
    Tier,
)
from lending.serializers import (
    ApplicationDecisionInputSerializer,
    ApplicationPageSerializer,
    ApplicationSerializer,
    ConsoleApplicationDetailSerializer,
    ConsoleLoanDetailSerializer,
    LoanPageSerializer,
    LoanSerializer,
    OverdueLoanPageSerializer,
    OverdueLoanSerializer,
    PolicySerializer,
    PortfolioSerializer,
    ProfileDetailSerializer,
    ProfilePageSerializer,
    ProfileSerializer,
    RecomputeInputSerializer,
    ScoringRunSerializer,
    WriteOffInputSerializer,
)
from lending.tasks import run_scoring


class _ConsoleApi(APIView):
    permission_classes = [IsBankStaff]
    staff_roles = (StaffRole.CREDIT_OFFICER,)  # and bank admins


def _profile_get(profile_id: int) -> CreditProfile:
    profile = CreditProfile.objects.filter(pk=profile_id).first()
    if profile is None:
        raise Http404
    return profile


def _application_detail(app: Application) -> dict:
    app = Application.objects.select_related("loan").get(pk=app.pk)
    party_id = app.merchant_id if app.party == PartyKind.MERCHANT else app.user_id
    profile = selectors.profile_of(party=app.party, party_id=party_id)
    events = selectors.events_of(application=app)
    policy = services.policy_get()
    open_review = app.status in (ApplicationStatus.IN_REVIEW,
                                 ApplicationStatus.AWAITING_SECOND)
    if open_review:
        credit = services.credit_of(party=app.party, party_id=party_id)
        app.needs_second_approval = (app.status == ApplicationStatus.AWAITING_SECOND or
                                     app.amount > policy.second_approval_over or
                                     app.amount > credit.available)
    else:
        app.needs_second_approval = False
    rows = [app, *events, *([profile] if profile else [])]
    return ConsoleApplicationDetailSerializer(
        app, context=_context(rows, profile=profile, events=events)).data


class ConsoleApplicationsApi(_ConsoleApi):
    class QuerySerializer(PageQuerySerializer):
        status = serializers.ChoiceField(
            choices=[("queue", "queue"), ("all", "all"), *ApplicationStatus.choices],
            required=False, default="queue",
            help_text="queue (default): in review and awaiting a second approval, oldest "
                      "first; all; or one status")
        product = serializers.ChoiceField(choices=Product.choices, required=False,
                                          allow_blank=True, default="")

    @extend_schema(operation_id="console_lending_applications_list",
                   parameters=[QuerySerializer], responses=ApplicationPageSerializer)
    def get(self, request):
        query = valid(self.QuerySerializer, request.query_params)
        if query["status"] == "queue":
            apps = selectors.application_queue()
        else:
            apps = selectors.application_list(
                status="" if query["status"] == "all" else query["status"])
            apps = apps.order_by("-created_at", "-pk")
        if query["product"]:
            apps = apps.filter(product=query["product"])
        return Response(_page(query, apps.select_related("loan"), ApplicationSerializer,
                              _context))


class ConsoleApplicationApi(_ConsoleApi):
    @extend_schema(responses=ConsoleApplicationDetailSerializer,
                   description="An application with the score explanation (each factor's "
                               "points of its most and the figures) and the audit trail.")
    def get(self, request, application_id: int):
        app = selectors.application_get(application_id=application_id)
        return Response(_application_detail(app))


class ConsoleApplicationDecideApi(_ConsoleApi):
    @extend_schema(
        request=ApplicationDecisionInputSerializer, responses=ConsoleApplicationDetailSerializer,
        description="Approve or reject (a note saying why is required). An approval above "
                    "the bank's threshold or the party's available limit needs a second, "
                    "different officer: the first approval leaves it awaiting_second; 400 "
                    "with code same_officer when the first approver tries again. An "
                    "approved application is disbursed at once.")
    def post(self, request, application_id: int):
        app = selectors.application_get(application_id=application_id)
        data = valid(ApplicationDecisionInputSerializer, request.data)
        with _not_found_as_404():
            app = services.application_decide(bank=request.bank, application=app,
                                              officer=request.user, approve=data["approve"],
                                              note=data["note"])
        return Response(_application_detail(app))


class ConsoleProfilesApi(_ConsoleApi):
    class QuerySerializer(PageQuerySerializer):
        party = serializers.ChoiceField(choices=PartyKind.choices, required=False,
                                        allow_blank=True, default="")
        tier = serializers.ChoiceField(choices=Tier.choices, required=False,
                                       allow_blank=True, default="")

    @extend_schema(operation_id="console_lending_profiles_list",
                   parameters=[QuerySerializer], responses=ProfilePageSerializer,
                   description="Credit profiles of the bank's merchants and customers, "
                               "best score first.")
    def get(self, request):
        query = valid(self.QuerySerializer, request.query_params)
        profiles = selectors.profile_list(party=query["party"] or None, tier=query["tier"])
        return Response(_page(query, profiles, ProfileSerializer, _context))


class ConsoleProfileApi(_ConsoleApi):
    @extend_schema(responses=ProfileDetailSerializer)
    def get(self, request, profile_id: int):
        profile = _profile_get(profile_id)
        return Response(ProfileDetailSerializer(profile, context=_context([profile])).data)


class ConsoleProfileRecomputeApi(_ConsoleApi):
    @extend_schema(request=RecomputeInputSerializer, responses=ProfileDetailSerializer,
                   description="Recompute one party's profile now (a merchant of this bank, "
                               "or a customer); 404 for a merchant of another bank.")
    def post(self, request):
        data = valid(RecomputeInputSerializer, request.data)
        with _not_found_as_404():
            profile = services.profile_compute(bank=request.bank, party=data["party"],
                                               party_id=data["party_id"], actor=request.user)
        return Response(ProfileDetailSerializer(profile, context=_context([profile])).data)


class ConsoleScoringRunsApi(_ConsoleApi):
    @extend_schema(operation_id="console_lending_scoring_runs_list",
                   responses=ScoringRunSerializer(many=True),
                   description="The latest 50 scoring runs, newest first.")
    def get(self, request):
        runs = ScoringRun.objects.order_by("-created_at", "-pk")[:50]
        return Response(ScoringRunSerializer(runs, many=True).data)

    @extend_schema(request=None, responses={201: ScoringRunSerializer},
                   description="Recompute every profile of the bank now: the run is queued "
                               "to the worker; follow done / total on the run. 400 with "
                               "code run_in_progress while another is open.")
    def post(self, request):
        run = services.scoring_run_start(bank=request.bank, trigger="manual",
                                         actor=request.user)
        # Queued after commit, from this bank's schema: the task runs in it.
        transaction.on_commit(lambda: run_scoring.delay(run.pk))
        return Response(ScoringRunSerializer(run).data, status=status.HTTP_201_CREATED)


class ConsoleScoringRunApi(_ConsoleApi):
    @extend_schema(responses=ScoringRunSerializer)
    def get(self, request, run_id: int):
        return Response(ScoringRunSerializer(selectors.scoring_run_get(run_id=run_id)).data)


class ConsolePortfolioApi(_ConsoleApi):
    @extend_schema(responses=PortfolioSerializer,
                   description="Outstanding principal by product, loans by status and "
                               "overdue loans by delinquency bucket.")
    def get(self, request):
        return Response(PortfolioSerializer(selectors.portfolio_summary()).data)


class ConsoleOverdueApi(_ConsoleApi):
    @extend_schema(operation_id="console_lending_overdue_list",
                   parameters=[PageQuerySerializer],
                   responses=OverdueLoanPageSerializer,
                   description="Overdue loans, longest overdue first, with their bucket and "
                               "what is due now including the penalty interest.")
    def get(self, request):
        query = valid(PageQuerySerializer, request.query_params)
        return Response(_page(query, selectors.overdue_loans(), OverdueLoanSerializer,
                              lambda items: _context(items, due=_dues(items))))


class ConsoleLoansApi(_ConsoleApi):
    class QuerySerializer(LoanQuerySerializer):
        product = serializers.ChoiceField(choices=Product.choices, required=False,
                                          allow_blank=True, default="")

    @extend_schema(operation_id="console_lending_loans_list", parameters=[QuerySerializer],
                   responses=LoanPageSerializer)
    def get(self, request):
        query = valid(self.QuerySerializer, request.query_params)
        loans = selectors.loans_list(status=query["status"], product=query["product"])
        return Response(_page(query, loans.order_by("-disbursed_at", "-pk"), LoanSerializer,
                              _context))


class ConsoleLoanApi(_ConsoleApi):
    @extend_schema(responses=ConsoleLoanDetailSerializer,
                   description="A loan: schedule, repayments, what is due, and the audit "
                               "trail (who did what).")
    def get(self, request, loan_id: int):
        loan = selectors.loan_get(loan_id=loan_id)
        return Response(_loan_detail(loan, ConsoleLoanDetailSerializer))


class ConsoleLoanWriteOffApi(_ConsoleApi):
    staff_roles = (StaffRole.BANK_ADMIN,)

    @extend_schema(request=WriteOffInputSerializer, responses=ConsoleLoanDetailSerializer,
                   description="Bank admins write off an overdue loan (the unpaid principal "
                               "becomes a loss); 403 for other staff.")
    def post(self, request, loan_id: int):
        loan = selectors.loan_get(loan_id=loan_id)
        data = valid(WriteOffInputSerializer, request.data)
        loan = services.loan_write_off(bank=request.bank, loan=loan, actor=request.user,
                                       note=data["note"])
        return Response(_loan_detail(loan, ConsoleLoanDetailSerializer))


class ConsolePolicyApi(_ConsoleApi):
    @extend_schema(responses=PolicySerializer,
                   description="The bank's lending parameters.")
    def get(self, request):
        return Response(PolicySerializer(services.policy_get()).data)

    @extend_schema(request=PolicySerializer(partial=True), responses=PolicySerializer,
                   description="Change some parameters (bank admins; 403 for other staff). "
                               "They take effect at the next scoring.")
    def patch(self, request):
        require_bank_staff(request, (StaffRole.BANK_ADMIN,))
        data = valid(PolicySerializer, request.data, partial=True)
        policy = services.policy_update(bank=request.bank, actor=request.user, **data)
        return Response(PolicySerializer(policy).data)
