"""Schemas of the identity service: API tokens (issued by a township's office for one of its actors), the audit
trail, and its event payloads (decision 38). No schema here ever carries a token's value but the answer that
issues it, and none its full hash."""
from marshmallow import ValidationError, fields, validate, validates_schema

from ..events import register
from ..errors import RuleMessage
from .bounds import Boolean, AwareDateTime, Integer, Pattern
from .common import CODE, StrictSchema

# the roles an office may issue a token for: its own township's actors (a county token comes from the command
# line, the public needs none)
ISSUABLE_ROLES = ("office", "unit", "party_member", "volunteer", "social_org", "supervision", "meeting")
ACTOR = Pattern(r"^[a-z_]+:[a-z0-9][a-z0-9_-]{0,63}$",
                        error="must be <role>:<id>, e.g. unit:water_station or office:wang")
ORGANISATION = Pattern(r"^social_org:[a-z0-9][a-z0-9_-]{0,63}$",
                               error="must be social_org:<id>, a registered social organisation")
TOKEN_ID = Pattern(r"^[0-9a-f]{16}$", error="must be a token id: 16 hexadecimal digits")


class IssueTokenSchema(StrictSchema):
    """The office issues a token for one actor of its township. ``actor`` is ``<role>:<id>``: a registered actor
    (unit, Party member, volunteer, social organisation) by its registry id, an office clerk, a meeting secretary
    or a supervision group by a code the office chooses. A supervision group names its villages and, if it belongs
    to one, its social organisation (whose reports it may never review)."""

    role = fields.String(required=True, validate=validate.OneOf(ISSUABLE_ROLES))
    actor = fields.String(required=True, validate=ACTOR)
    label = fields.String(validate=validate.Length(min=1, max=200), allow_none=True,
                          metadata={"description": "what the token is for, e.g. the device it is kept on"})
    villages = fields.List(fields.String(validate=CODE), validate=validate.Length(max=50), load_default=list,
                           metadata={"description": "supervision only: the villages whose reports it reviews"})
    organisation = fields.String(validate=ORGANISATION, allow_none=True,
                                 metadata={"description": "supervision only: the social organisation it belongs to"})

    @validates_schema
    def _actor_of_role(self, data, **kwargs):
        role, actor = data.get("role"), data.get("actor")
        if role and actor and actor.partition(":")[0] != role:
            raise ValidationError(RuleMessage(f"a {role} token's actor is {role}:<id>"), "actor")
        if role == "supervision":
            if not data.get("villages"):
                raise ValidationError(RuleMessage("a supervision group names its villages"), "villages")
        else:
            if data.get("villages"):
                raise ValidationError(RuleMessage("only a supervision group has villages"), "villages")
            if data.get("organisation"):
                raise ValidationError(RuleMessage("only a supervision group belongs to an organisation"), "organisation")


class TokenQuerySchema(StrictSchema):
    """Filters of the office's token listing (newest first)."""

    role = fields.String(validate=validate.OneOf(ISSUABLE_ROLES))
    actor = fields.String(validate=ACTOR)
    active = Boolean(query=True, metadata={"description": "true: not revoked; false: revoked"})
    limit = Integer(query=True, load_default=100, validate=validate.Range(min=1, max=500))


class TokenViewSchema(StrictSchema):
    """A token as the office sees it: its public id, never the token or its hash."""

    id = fields.String(attribute="token_id", metadata={"description": "the token's public id (16 hex digits)"})
    role = fields.String()
    actor = fields.String()
    township_id = fields.String(allow_none=True)
    county_id = fields.String(allow_none=True)
    townships = fields.List(fields.String())
    villages = fields.List(fields.String())
    organisation = fields.String(allow_none=True)
    label = fields.String(allow_none=True)
    issued_by = fields.String()
    issued_at = AwareDateTime()
    revoked_at = AwareDateTime(allow_none=True)
    revoked_by = fields.String(allow_none=True)
    active = fields.Method("_active")

    def _active(self, obj):
        return obj.get("revoked_at") is None


class IssuedTokenSchema(TokenViewSchema):
    """The answer that issues a token: the only time the token itself is shown."""

    token = fields.String(metadata={"description": "the API token (Authorization: Bearer <token>); shown once"})


class TokenListSchema(StrictSchema):
    items = fields.List(fields.Nested(TokenViewSchema))


class AuditQuerySchema(StrictSchema):
    """Filters and page of the audit trail, newest first; ``cursor`` from the previous page."""

    actor = fields.String(validate=validate.Length(min=1, max=140), metadata={"description": "who acted"})
    type = fields.String(validate=validate.Length(min=1, max=64), metadata={"description": "event type"})
    case = fields.String(validate=validate.Length(min=1, max=100), metadata={"description": "a case id"})
    limit = Integer(query=True, load_default=50, validate=validate.Range(min=1, max=200))
    cursor = fields.String(validate=validate.Length(min=1, max=200))


class AuditEntrySchema(StrictSchema):
    """One fact of the audit trail: which event, when, in which township, by whom."""

    id = fields.String(attribute="_id", metadata={"description": "the event's id"})
    time = AwareDateTime()
    township_id = fields.String()
    actor = fields.String(allow_none=True, metadata={"description": "who caused it; null before decision 38"})
    type = fields.String()
    source = fields.String()
    correlation_id = fields.String(allow_none=True, metadata={"description": "the case it is about"})


class AuditPageSchema(StrictSchema):
    items = fields.List(fields.Nested(AuditEntrySchema))
    next_cursor = fields.String(allow_none=True)


# ---- event payloads ------------------------------------------------------------------------------------------
@register("token_issued", 1, "identity")
class TokenIssuedV1(StrictSchema):
    """A token was issued for ``actor``. The envelope's ``township_id`` is the token's township (a county token's:
    its county); its ``actor`` is who issued it. Never the token."""

    token_id = fields.String(required=True, validate=TOKEN_ID)
    role = fields.String(required=True)
    actor = fields.String(required=True)
    county_id = fields.String(required=True, allow_none=True)
    villages = fields.List(fields.String(), required=True)
    organisation = fields.String(required=True, allow_none=True)
    issued_at = AwareDateTime(required=True)


@register("token_revoked", 1, "identity")
class TokenRevokedV1(StrictSchema):
    """A token was revoked: it resolves no more (the gateway may answer from its cache for a few seconds)."""

    token_id = fields.String(required=True, validate=TOKEN_ID)
    role = fields.String(required=True)
    actor = fields.String(required=True)
    revoked_at = AwareDateTime(required=True)
