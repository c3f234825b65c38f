from rest_framework import serializers

from banks.models import Bank, Branch


class BranchSerializer(serializers.ModelSerializer):
    class Meta:
        model = Branch
        fields = ["id", "code", "name", "county", "address", "phone", "opening_hours",
                  "is_pickup_point"]


class BankSerializer(serializers.ModelSerializer):
    domains = serializers.SerializerMethodField()
    branches = BranchSerializer(many=True, read_only=True)

    class Meta:
        model = Bank
        fields = ["id", "code", "name", "short_name", "region", "slogan", "brand_color",
                  "schema_name", "is_active", "domains", "branches", "created_at"]

    def get_domains(self, bank) -> list[str]:
        return [d.domain for d in bank.domains.all()]
