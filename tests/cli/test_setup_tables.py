"""setup_tables.py through ``main(argv)`` on moto's in-process DynamoDB: every flag, every error."""

from __future__ import annotations

import json

import boto3
import pytest

import setup_tables
from health_api.config import load_settings
from health_api.storage.tables import LOGICAL_TABLES, table_specs


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = setup_tables.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_creates_every_table_with_keys_gsis_tags_and_ttl(mock_dynamodb, capsys) -> None:
    code, out, _ = run(capsys, "--wait-delay", "1")

    assert code == 0
    assert out.count("created") == len(LOGICAL_TABLES)
    slots = mock_dynamodb.describe_table(TableName="horarios_doctores")["Table"]
    assert slots["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert {k["AttributeName"]: k["KeyType"] for k in slots["KeySchema"]} == {
        "doctor_id": "HASH",
        "fecha_hora": "RANGE",
    }
    (index,) = slots["GlobalSecondaryIndexes"]
    assert index["IndexName"] == "user_id-index"
    assert [k["AttributeName"] for k in index["KeySchema"]] == ["user_id", "fecha_hora"]
    doctors = mock_dynamodb.describe_table(TableName="doctores")["Table"]
    assert doctors["GlobalSecondaryIndexes"][0]["IndexName"] == "especialidad-index"
    ttl = mock_dynamodb.describe_time_to_live(TableName="user_sessions")
    assert ttl["TimeToLiveDescription"] == {"TimeToLiveStatus": "ENABLED", "AttributeName": "ttl"}
    tags = mock_dynamodb.list_tags_of_resource(ResourceArn=slots["TableArn"])["Tags"]
    assert {t["Key"]: t["Value"] for t in tags} == {
        "Application": "HealthAssistantAPI",
        "Environment": "development",
    }


def test_waits_for_each_new_table_to_be_active(mock_dynamodb, monkeypatch, capsys) -> None:
    waited = []
    real_create = setup_tables.admin.create_tables

    def spy(client, specs, **kwargs):
        results = real_create(client, specs, **kwargs)
        waited.extend(kwargs["waiting"].calls)
        return results

    monkeypatch.setattr(setup_tables.admin, "create_tables", spy)

    code, _, _ = run(capsys)

    assert code == 0
    assert waited == [
        "table_exists:doctores",
        "table_exists:horarios_doctores",
        "table_exists:user_sessions",
        "table_exists:idempotency_keys",
    ]


def test_second_run_changes_nothing_and_exits_zero(mock_dynamodb, capsys) -> None:
    run(capsys)

    code, out, _ = run(capsys)

    assert code == 0
    assert out.count("skipped") == len(LOGICAL_TABLES)
    assert "created" not in out


def test_an_existing_table_is_skipped_and_left_untouched(mock_dynamodb, capsys) -> None:
    mock_dynamodb.create_table(
        TableName="doctores",
        KeySchema=[{"AttributeName": "doctor_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "doctor_id", "AttributeType": "S"}],
        ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1},
    )

    code, out, _ = run(capsys)

    assert code == 0
    assert "skipped  doctores: exists, not touched" in out
    assert "run --validate" in out
    table = mock_dynamodb.describe_table(TableName="doctores")["Table"]
    assert not table.get("GlobalSecondaryIndexes")
    assert table["ProvisionedThroughput"]["ReadCapacityUnits"] == 1


def test_validate_exits_zero_when_every_table_matches(mock_dynamodb, capsys) -> None:
    run(capsys)

    code, out, _ = run(capsys, "--validate")

    assert code == 0
    assert out.count("ok ") == len(LOGICAL_TABLES)
    assert f"{len(LOGICAL_TABLES)} match, 0 differ" in out


def test_validate_changes_nothing(mock_dynamodb, capsys) -> None:
    code, out, _ = run(capsys, "--validate")

    assert code == 1
    assert out.count("does not exist") == len(LOGICAL_TABLES)
    assert mock_dynamodb.list_tables()["TableNames"] == []


def _drop_ttl(client) -> None:
    client.update_time_to_live(
        TableName="user_sessions",
        TimeToLiveSpecification={"Enabled": False, "AttributeName": "ttl"},
    )


def _ttl_elsewhere(client) -> None:
    _drop_ttl(client)
    client.update_time_to_live(
        TableName="user_sessions",
        TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires"},
    )


def _drop_gsi(client) -> None:
    client.update_table(
        TableName="horarios_doctores",
        GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": "user_id-index"}}],
    )


def _wrong_key_type(client) -> None:
    client.delete_table(TableName="user_sessions")
    client.create_table(
        TableName="user_sessions",
        KeySchema=[{"AttributeName": "user_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "user_id", "AttributeType": "N"}],
        BillingMode="PAY_PER_REQUEST",
        Tags=[
            {"Key": "Application", "Value": "HealthAssistantAPI"},
            {"Key": "Environment", "Value": "development"},
        ],
    )
    client.update_time_to_live(
        TableName="user_sessions",
        TimeToLiveSpecification={"Enabled": True, "AttributeName": "ttl"},
    )


def _provisioned(client) -> None:
    client.update_table(
        TableName="doctores",
        BillingMode="PROVISIONED",
        ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 5},
        GlobalSecondaryIndexUpdates=[
            {
                "Update": {
                    "IndexName": "especialidad-index",
                    "ProvisionedThroughput": {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5},
                }
            }
        ],
    )


def _untag(client) -> None:
    arn = client.describe_table(TableName="doctores")["Table"]["TableArn"]
    client.untag_resource(ResourceArn=arn, TagKeys=["Environment"])


@pytest.mark.parametrize(
    ("breakage", "expected_line"),
    [
        (lambda c: c.delete_table(TableName="doctores"), "doctores: table doctores does not exist"),
        (_drop_ttl, "user_sessions: TTL is off (expected on attribute ttl)"),
        (_ttl_elsewhere, "user_sessions: TTL is on attribute expires, expected ttl"),
        (_drop_gsi, "horarios_doctores: GSI user_id-index is missing"),
        (_wrong_key_type, "user_sessions: key schema: HASH key user_id has type N, expected S"),
        (_provisioned, "doctores: billing mode is PROVISIONED, expected PAY_PER_REQUEST"),
        (_untag, "doctores: tag Environment=development is missing"),
    ],
    ids=["missing-table", "ttl-off", "ttl-other", "gsi-missing", "key-type", "billing", "tag"],
)
def test_validate_prints_one_line_per_difference_and_exits_one(
    mock_dynamodb, capsys, breakage, expected_line
) -> None:
    run(capsys)
    breakage(mock_dynamodb)

    code, out, _ = run(capsys, "--validate")

    assert code == 1
    diff_lines = [line for line in out.splitlines() if line.startswith("DIFF")]
    assert diff_lines == [f"DIFF   {expected_line}"]


def test_validate_accepts_a_table_whose_keys_carry_other_names(mock_dynamodb, capsys) -> None:
    run(capsys)
    mock_dynamodb.delete_table(TableName="user_sessions")
    mock_dynamodb.create_table(
        TableName="user_sessions",
        KeySchema=[{"AttributeName": "session_owner", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "session_owner", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        Tags=[
            {"Key": "Application", "Value": "HealthAssistantAPI"},
            {"Key": "Environment", "Value": "development"},
        ],
    )
    mock_dynamodb.update_time_to_live(
        TableName="user_sessions",
        TimeToLiveSpecification={"Enabled": True, "AttributeName": "ttl"},
    )

    code, out, _ = run(capsys, "--validate", "--json")

    assert code == 0
    report = json.loads(out)
    sessions = next(t for t in report["tables"] if t["logical"] == "user_sessions")
    assert sessions["key_names"] == {"user_id": "session_owner"}
    assert "named session_owner" in sessions["notes"][0]


def test_validate_json_is_machine_readable(mock_dynamodb, capsys) -> None:
    run(capsys)
    _drop_ttl(mock_dynamodb)

    code, out, _ = run(capsys, "--validate", "--json")

    report = json.loads(out)
    assert code == 1
    assert report["ok"] is False
    assert [t["ok"] for t in report["tables"]] == [True, True, False, True]
    assert report["tables"][2]["differences"] == ["TTL is off (expected on attribute ttl)"]


def test_force_reports_each_existing_table_and_fails(mock_dynamodb, capsys) -> None:
    run(capsys)

    code, out, _ = run(capsys, "--force")

    assert code == 1
    assert out.count("ResourceInUseException") == len(LOGICAL_TABLES)


def test_force_still_creates_missing_tables(mock_dynamodb, capsys) -> None:
    code, out, _ = run(capsys, "--force", "--json")

    assert code == 0
    assert [t["action"] for t in json.loads(out)["tables"]] == ["created"] * len(LOGICAL_TABLES)


def test_delete_refuses_without_yes(mock_dynamodb, capsys) -> None:
    run(capsys)

    code, _, err = run(capsys, "--delete")

    assert code == 2
    assert "add --yes" in err
    assert len(mock_dynamodb.list_tables()["TableNames"]) == len(LOGICAL_TABLES)


def test_delete_always_refuses_in_production(mock_dynamodb, monkeypatch, capsys) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    run(capsys)

    code, _, err = run(capsys, "--delete", "--yes")

    assert code == 2
    assert "never runs with ENVIRONMENT=production" in err
    assert len(mock_dynamodb.list_tables()["TableNames"]) == len(LOGICAL_TABLES)


def test_delete_with_yes_drops_only_the_configured_tables(mock_dynamodb, capsys) -> None:
    run(capsys)
    mock_dynamodb.create_table(
        TableName="someone-elses",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )

    code, out, _ = run(capsys, "--delete", "--yes")

    assert code == 0
    assert out.count("deleted") == len(LOGICAL_TABLES)
    assert mock_dynamodb.list_tables()["TableNames"] == ["someone-elses"]
    code, out, _ = run(capsys, "--delete", "--yes")
    assert code == 0
    assert out.count("absent") == len(LOGICAL_TABLES)


def test_prefix_and_overrides_name_the_tables(mock_dynamodb, monkeypatch, capsys) -> None:
    monkeypatch.setenv("HEALTH_API_TABLE_PREFIX", "qa-")
    monkeypatch.setenv("HEALTH_API_TABLE_USER_SESSIONS", "chat_sessions")
    monkeypatch.setenv("ENVIRONMENT", "qa")

    code, _, _ = run(capsys)

    assert code == 0
    assert sorted(mock_dynamodb.list_tables()["TableNames"]) == [
        "chat_sessions",
        "qa-doctores",
        "qa-horarios_doctores",
        "qa-idempotency_keys",
    ]
    arn = mock_dynamodb.describe_table(TableName="qa-doctores")["Table"]["TableArn"]
    tags = mock_dynamodb.list_tags_of_resource(ResourceArn=arn)["Tags"]
    assert {"Key": "Environment", "Value": "qa"} in tags


def test_region_flag_wins_over_the_environment(mock_dynamodb, capsys) -> None:
    code, _, _ = run(capsys, "--region", "eu-west-3")

    assert code == 0
    assert mock_dynamodb.list_tables()["TableNames"] == []
    paris = boto3.client("dynamodb", region_name="eu-west-3")
    assert len(paris.list_tables()["TableNames"]) == len(LOGICAL_TABLES)


def test_print_iam_policy_names_exactly_the_configured_tables(monkeypatch, capsys) -> None:
    monkeypatch.setenv("HEALTH_API_TABLE_PREFIX", "prod-")
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")  # calls no AWS API, so needs no credentials

    code, out, _ = run(
        capsys, "--print-iam-policy", "--json", "--region", "eu-west-1", "--account-id", "123"
    )

    assert code == 0
    policies = json.loads(out)
    service = {s["Sid"]: s for s in policies["service"]["Statement"]}
    assert service["HealthApiItems"]["Resource"] == [
        "arn:aws:dynamodb:eu-west-1:123:table/prod-doctores",
        "arn:aws:dynamodb:eu-west-1:123:table/prod-horarios_doctores",
        "arn:aws:dynamodb:eu-west-1:123:table/prod-user_sessions",
        "arn:aws:dynamodb:eu-west-1:123:table/prod-idempotency_keys",
    ]
    assert service["HealthApiIndexQueries"]["Resource"] == [
        "arn:aws:dynamodb:eu-west-1:123:table/prod-doctores/index/especialidad-index",
        "arn:aws:dynamodb:eu-west-1:123:table/prod-horarios_doctores/index/user_id-index",
    ]
    assert "dynamodb:Scan" in service["HealthApiItems"]["Action"]  # GET /doctors, no specialty
    assert service["HealthApiIndexQueries"]["Action"] == ["dynamodb:Query"]
    assert "dynamodb:CreateTable" not in json.dumps(policies["service"])
    setup_actions = policies["setup"]["Statement"][0]["Action"]
    assert "dynamodb:CreateTable" in setup_actions
    assert "dynamodb:DeleteTable" not in setup_actions


@pytest.mark.parametrize(
    ("region", "partition"),
    [("cn-north-1", "aws-cn"), ("us-gov-west-1", "aws-us-gov"), ("eu-south-2", "aws")],
)
def test_print_iam_policy_uses_the_partition_of_the_region(capsys, region, partition) -> None:
    code, out, _ = run(capsys, "--print-iam-policy", "--json", "--region", region)

    assert code == 0
    policies = json.loads(out)
    resources = [
        arn
        for policy in policies.values()
        for statement in policy["Statement"]
        for arn in statement["Resource"]
    ]
    assert resources
    assert all(arn.startswith(f"arn:{partition}:dynamodb:{region}:*:table/") for arn in resources)


def test_print_iam_policy_text_has_both_policies(capsys) -> None:
    code, out, _ = run(capsys, "--print-iam-policy")

    assert code == 0
    assert "# Policy for the API service's role" in out
    assert "# Policy for setup_tables.py" in out


def test_help_explains_every_flag(capsys) -> None:
    with pytest.raises(SystemExit) as exited:
        setup_tables.main(["--help"])

    out = capsys.readouterr().out
    assert exited.value.code == 0
    for flag in (
        "--validate",
        "--force",
        "--delete",
        "--yes",
        "--region",
        "--endpoint-url",
        "--json",
        "--print-iam-policy",
        "exit codes",
    ):
        assert flag in out


def test_modes_are_mutually_exclusive(capsys) -> None:
    with pytest.raises(SystemExit) as exited:
        setup_tables.main(["--validate", "--force"])

    assert exited.value.code == 2


def test_no_credentials_explains_the_three_ways(monkeypatch, moto_server_url, capsys) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")

    code, out, err = run(capsys, "--validate", "--endpoint-url", moto_server_url)

    assert code == 3
    assert out == ""
    assert "Unable to locate credentials" in err
    assert "AWS_ACCESS_KEY_ID" in err
    assert "AWS_PROFILE" in err
    assert "instance profile" in err
    assert "Traceback" not in err


def test_access_denied_lists_the_permissions(monkeypatch, capsys) -> None:
    from moto import mock_aws
    from moto.core import set_initial_no_auth_action_count

    @set_initial_no_auth_action_count(3)
    @mock_aws
    def as_read_only_user() -> tuple[int, str, str]:
        iam = boto3.client("iam", region_name="us-east-1")
        iam.create_user(UserName="reader")
        policy = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "dynamodb:Describe*", "Resource": "*"}],
        }
        iam.put_user_policy(UserName="reader", PolicyName="read", PolicyDocument=json.dumps(policy))
        key = iam.create_access_key(UserName="reader")["AccessKey"]
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
        return run(capsys)

    code, _, err = as_read_only_user()

    assert code == 3
    assert "AccessDeniedException" in err
    assert "dynamodb:CreateTable" in err
    assert "--print-iam-policy" in err
    assert "Traceback" not in err


def test_unknown_credentials_are_explained(monkeypatch, capsys) -> None:
    from moto import mock_aws
    from moto.core import set_initial_no_auth_action_count

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIANOTAREALKEY00000")

    @set_initial_no_auth_action_count(0)
    @mock_aws
    def with_unknown_key() -> tuple[int, str, str]:
        return run(capsys, "--validate")

    code, _, err = with_unknown_key()

    assert code == 3
    assert "rejected the credentials" in err
    assert "sts get-caller-identity" in err


def test_unreachable_endpoint_is_explained(capsys) -> None:
    code, _, err = run(capsys, "--validate", "--endpoint-url", "http://127.0.0.1:9")

    assert code == 3
    assert "cannot connect to http://127.0.0.1:9" in err
    assert "could not be reached" in err
    assert "Traceback" not in err


def test_unreachable_endpoint_leads_to_the_repositorys_own_dynamodb_local(capsys) -> None:
    """The hint names the command that starts DynamoDB Local here, on the port it serves by
    default, and the dummy credentials it needs (README: setup_tables.py)."""
    from tools import dynamodb_local

    _, _, err = run(capsys, "--validate", "--endpoint-url", "http://127.0.0.1:9")
    hint = " ".join(err.split())

    assert "`.venv/bin/python -m tools.dynamodb_local serve`" in hint
    assert (
        "`AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_REGION=us-east-1 "
        ".venv/bin/python setup_tables.py --endpoint-url "
        f"http://127.0.0.1:{dynamodb_local.DEFAULT_PORT}`"
    ) in hint


def test_unknown_region_is_explained(capsys) -> None:
    code, _, err = run(capsys, "--validate", "--region", "xx-nowhere-9")

    assert code == 3
    assert "region xx-nowhere-9 is not known to AWS" in err
    assert "--region" in err


def test_a_bad_setting_is_a_one_line_usage_error(monkeypatch, capsys) -> None:
    monkeypatch.setenv("HEALTH_API_TABLE_PREFIX", "no spaces")

    code, out, err = run(capsys, "--validate")

    assert code == 2
    assert out == ""
    assert err.strip().startswith("setup_tables.py: configuration error: HEALTH_API_TABLE_PREFIX")
    assert len(err.strip().splitlines()) == 1


def test_the_cli_and_the_specs_agree_on_names(mock_dynamodb, capsys) -> None:
    run(capsys)

    specs = table_specs(load_settings())

    assert sorted(mock_dynamodb.list_tables()["TableNames"]) == sorted(
        spec.name for spec in specs.values()
    )
