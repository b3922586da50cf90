"""Admin and service shapes: table reports, seed results, health."""

from __future__ import annotations

from marshmallow import Schema, fields


class TableReportOut(Schema):
    """One table next to its spec."""

    logical = fields.String(required=True)
    name = fields.String(required=True)
    exists = fields.Boolean(required=True)
    status = fields.String(allow_none=True)
    ok = fields.Boolean(required=True)
    differences = fields.List(fields.String(), required=True)
    notes = fields.List(fields.String(), required=True)
    key_names = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        required=True,
        metadata={
            "description": "Each key attribute of the spec and the name the table gives it "
            "(read from DescribeTable; empty when the table does not exist)."
        },
    )


class TablesOut(Schema):
    """Every table's report."""

    ok = fields.Boolean(required=True)
    tables = fields.List(fields.Nested(TableReportOut), required=True)


class SeedOut(Schema):
    """What a demo-data load or removal did."""

    doctors = fields.Integer(required=True)
    slots = fields.Integer(required=True)


class ReadyTableOut(Schema):
    """One table as public ``/readyz`` shows it: which, whether it serves, and what differs,
    without key attribute names (those are in ``/api/v1/admin/tables``)."""

    logical = fields.String(required=True)
    name = fields.String(required=True)
    exists = fields.Boolean(required=True)
    status = fields.String(allow_none=True)
    ok = fields.Boolean(required=True)
    differences = fields.List(fields.String(), required=True)


class Health(Schema):
    """Liveness / readiness."""

    status = fields.String(required=True)
    tables = fields.List(fields.Nested(ReadyTableOut))
