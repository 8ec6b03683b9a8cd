"""Reference data a township publishes so clients can fill their forms: villages and the category catalogue."""
from marshmallow import fields, validate

from .bounds import Boolean, Float, Integer, Pattern
from .common import CODE, URGENCIES, StrictSchema


class NamesSchema(StrictSchema):
    zh = fields.String(required=True)
    en = fields.String(required=True)


class VillageSchema(StrictSchema):
    code = fields.String(required=True, validate=CODE)
    names = fields.Nested(NamesSchema, required=True)
    lat = Float(allow_none=True)
    long = Float(allow_none=True)


class CategorySchema(StrictSchema):
    code = fields.String(required=True, validate=CODE)
    names = fields.Nested(NamesSchema, required=True)
    default_urgency = fields.String(required=True, validate=validate.OneOf(URGENCIES))
    handling_days = Integer(required=True, validate=validate.Range(min=1, max=60),
                                   metadata={"description": "handling limit in working days"})
    keywords = fields.List(fields.String(), load_default=list)
    terms = fields.Dict(keys=fields.String(validate=validate.OneOf(("strong", "medium", "weak"))),
                        values=fields.List(fields.String()), load_default=dict, load_only=True,
                        metadata={"description": "words residents use for the category, by weight (classifier)"})
    community_service = Boolean(load_default=False, metadata={
        "description": "may go to a double check-in Party member or volunteer of the same village"})


class TownshipSchema(StrictSchema):
    id = fields.String(required=True, validate=CODE)
    prefix = fields.String(required=True, validate=Pattern(r"^[A-Z]{2,4}$"))
    names = fields.Nested(NamesSchema, required=True)
    county = fields.String(required=True)
    timezone = fields.String(load_default="Asia/Shanghai")
    area_code = fields.String(load_default=None, allow_none=True, validate=Pattern(r"^0[1-9][0-9]{1,2}$"),
                              metadata={"description": "telephone area code (0579): completes a landline given "
                                                       "without one"})
