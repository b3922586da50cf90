"""Doctor shapes: create, partial update, list query, response."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from health_api.schemas.common import Id, PageQuery

NAME = validate.Length(min=1, max=200)


class DoctorCreate(Schema):
    """POST /doctors: ``doctor_id`` is generated when absent."""

    doctor_id = Id(load_default=None)
    nombre = fields.String(required=True, validate=NAME)
    especialidad = fields.String(required=True, validate=validate.Length(min=1, max=100))
    centro = fields.String(load_default=None, allow_none=True, validate=NAME)
    telefono = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(min=3, max=40)
    )
    email = fields.Email(load_default=None, allow_none=True)
    idiomas = fields.List(
        fields.String(validate=validate.Length(min=2, max=35)),
        load_default=list,
        validate=validate.Length(max=20),
    )


class DoctorUpdate(Schema):
    """PATCH /doctors/{doctor_id}: any subset; ``doctor_id`` cannot change (unknown field)."""

    nombre = fields.String(validate=NAME)
    especialidad = fields.String(validate=validate.Length(min=1, max=100))
    centro = fields.String(allow_none=True, validate=NAME)
    telefono = fields.String(allow_none=True, validate=validate.Length(min=3, max=40))
    email = fields.Email(allow_none=True)
    idiomas = fields.List(
        fields.String(validate=validate.Length(min=2, max=35)),
        allow_none=True,
        validate=validate.Length(max=20),
    )


class DoctorQuery(PageQuery):
    """GET /doctors: optional specialty (matched ignoring case and accents)."""

    especialidad = fields.String(load_default=None, validate=validate.Length(min=1, max=100))


class DoctorOut(Schema):
    """A doctor."""

    doctor_id = fields.String(required=True)
    nombre = fields.String(required=True)
    especialidad = fields.String(required=True)
    centro = fields.String(allow_none=True)
    telefono = fields.String(allow_none=True)
    email = fields.String(allow_none=True)
    idiomas = fields.List(fields.String())


class DoctorPage(Schema):
    """A page of doctors."""

    items = fields.List(fields.Nested(DoctorOut), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


class DoctorDeletion(Schema):
    """DELETE /doctors/{doctor_id} answered 202: the deletion goes on; repeat the DELETE."""

    doctor_id = fields.String(required=True)
    estado = fields.String(
        required=True, metadata={"description": "Always ``eliminando``.", "enum": ["eliminando"]}
    )
    slots_eliminados = fields.Integer(
        required=True,
        metadata={"description": "Future free slots this request removed."},
    )
