"""HTTP routes of the joint meetings and consultation topics (the meetings service), mixed into the gateway.

The office and the meeting's secretary (role ``meeting``) compose, record and close; an attendee (a unit, Party
member, volunteer, social organisation or residents' supervision group named on the meeting) reads the agenda and
minutes of the meetings it attends; the public reads a village's consultation topics and their published results
and may propose one."""
from __future__ import annotations

import base64

from werkzeug.wrappers import Response

from township_shared.auth import EVERYONE
from township_shared.errors import NotFound
from township_shared.schemas import meetings as mt

from .dependencies import RpcProxy
from .http import api, http, json_response, query_args
from .openapi import TOWNSHIP, Operation, items, operation, operations

MANAGERS = ("office", "meeting")
READERS = (*MANAGERS, "unit", "party_member", "volunteer", "social_org", "supervision")
TOPIC_PROPOSERS = ("public", "office", "unit", "party_member", "meeting")
# URL segment -> (RPC method, body schema or None, summary)
MEETING_COMMANDS = {"agenda": ("compose_agenda", mt.AgendaSchema, "Compose the agenda from candidate items"),
                    "publish": ("publish_agenda", None, "Publish the agenda to the attendees"),
                    "close": ("close_meeting", mt.CloseMeetingSchema,
                              "Close the meeting: freeze the minutes and announce every decision"),
                    "addenda": ("add_addendum", mt.AddendumSchema, "A dated correction of closed minutes")}
EXPORT_MEDIA = {"md": "text/markdown", "html": "text/html", "pdf": "application/pdf"}


class MeetingRoutes:
    """Routes of :class:`gateway.service.GatewayService` (its base class), on the ``meetings`` service."""

    meetings = RpcProxy("meetings")

    @operation("Candidate items for the joint meeting, with source and summary (office, secretary)",
               query=mt.CandidateQuerySchema, response=items(mt.AgendaCandidateViewSchema), errors=(400,),
               roles=MANAGERS)
    @http("GET", "/api/v1/meeting-candidates")
    @api
    def list_meeting_candidates(self, request):
        return json_response(200, {"items": self.meetings.list_candidates(self._p(request), query_args(request))})

    @operation("Add a candidate item: a case of the township or any other matter (office)",
               body=mt.CandidateCreateSchema, status=201, response=mt.AgendaCandidateViewSchema, errors=(400, 422),
               roles=("office",))
    @http("POST", "/api/v1/meeting-candidates")
    @api
    def propose_meeting_item(self, request):
        return json_response(201, self.meetings.propose_item(self._p(request), self._body(request)))

    @operation("Schedule a meeting: kind, title, date, place, convener, attendees", body=mt.MeetingCreateSchema,
               status=201, response=mt.MeetingViewSchema, errors=(400, 422), roles=MANAGERS)
    @http("POST", "/api/v1/meetings")
    @api
    def schedule_meeting(self, request):
        meeting = self.meetings.schedule_meeting(self._p(request), self._body(request))
        return json_response(201, meeting, {"Location": f"/api/v1/meetings/{meeting['id']}"})

    @operation("Meetings (the office and secretary all; an attendee those it attends)", query=mt.MeetingQuerySchema,
               response=items(mt.MeetingViewSchema), errors=(400,), roles=READERS)
    @http("GET", "/api/v1/meetings")
    @api
    def list_meetings(self, request):
        return json_response(200, {"items": self.meetings.list_meetings(self._p(request), query_args(request))})

    @operation("A meeting: its agenda opening with earlier decisions not yet done, records, decisions and their "
               "state, frozen minutes and addenda", response=mt.MeetingViewSchema, errors=(404,), roles=READERS)
    @http("GET", "/api/v1/meetings/<string:meeting_id>")
    @api
    def get_meeting(self, request, meeting_id):
        return json_response(200, self.meetings.get_meeting(self._p(request), meeting_id))

    @operations(Operation(summary, body=body, response=mt.MeetingViewSchema, errors=(400, 404, 409, 422),
                          fixed={"command": command}, roles=MANAGERS)
                for command, (_, body, summary) in MEETING_COMMANDS.items())
    @http("POST", "/api/v1/meetings/<string:meeting_id>/<string:command>")
    @api
    def meeting_command(self, request, meeting_id, command):
        if command not in MEETING_COMMANDS:
            raise NotFound("no such meeting command", allowed=sorted(MEETING_COMMANDS))
        method, body, _ = MEETING_COMMANDS[command]
        args = (self._body(request),) if body is not None else ()
        return json_response(200, getattr(self.meetings, method)(self._p(request), meeting_id, *args))

    @operation("Record an item: discussion notes, votes, the decision, follow-ups (before the meeting closes)",
               body=mt.RecordSchema, response=mt.MeetingViewSchema, errors=(400, 404, 409, 422), roles=MANAGERS)
    @http("POST", "/api/v1/meetings/<string:meeting_id>/items/<string:item_id>/record")
    @api
    def record_meeting_item(self, request, meeting_id, item_id):
        return json_response(200, self.meetings.record_item(self._p(request), meeting_id, item_id,
                                                            self._body(request)))

    @operations(Operation(f"The frozen minutes with their addenda as {name}", media_type=media,
                          response={"type": "string"}, errors=(404, 409), fixed={"fmt": fmt}, roles=READERS)
                for fmt, name, media in (("md", "Markdown", EXPORT_MEDIA["md"]), ("html", "HTML", EXPORT_MEDIA["html"]),
                                         ("pdf", "PDF (CJK font)", EXPORT_MEDIA["pdf"])))
    @http("GET", "/api/v1/meetings/<string:meeting_id>/minutes.<string:fmt>")
    @api
    def export_minutes(self, request, meeting_id, fmt):
        if fmt not in EXPORT_MEDIA:
            raise NotFound("no such export", allowed=sorted(EXPORT_MEDIA))
        exported = self.meetings.export_minutes(self._p(request), meeting_id, fmt)
        body = base64.b64decode(exported["base64"]) if "base64" in exported else exported["text"]
        return Response(body, status=200, headers={"Content-Type": exported["media_type"],
                                                   "Content-Disposition": f"inline; filename={meeting_id}.{fmt}"})

    # consultation topics (协商议题) -----------------------------------------------------------------------------
    @operation("Propose a consultation topic (villagers, a village committee, a Party member, the office)",
               headers=(TOWNSHIP,), body=mt.TopicCreateSchema, status=201, response=mt.TopicViewSchema,
               errors=(400, 404, 422), roles=TOPIC_PROPOSERS)
    @http("POST", "/api/v1/topics")
    @api
    def propose_topic(self, request):
        if request.principal.is_public:
            self._known_township(request)
        topic = self.meetings.propose_topic(self._p(request), self._body(request))
        return json_response(201, topic, {"Location": f"/api/v1/topics/{topic['id']}"})

    @operation("Consultation topics of a village with their course and published results (the office and "
               "secretary: with proposers and positions)", headers=(TOWNSHIP,), query=mt.TopicQuerySchema,
               response=items(mt.TopicViewSchema), errors=(400, 404), roles=EVERYONE)
    @http("GET", "/api/v1/topics")
    @api
    def list_topics(self, request):
        self._known_township(request)
        return json_response(200, {"items": self.meetings.list_topics(self._p(request), query_args(request))})

    @operation("One consultation topic", headers=(TOWNSHIP,), response=mt.TopicViewSchema, errors=(404,),
               roles=EVERYONE)
    @http("GET", "/api/v1/topics/<string:topic_id>")
    @api
    def get_topic(self, request, topic_id):
        return json_response(200, self.meetings.get_topic(self._p(request), topic_id))

    @operations(Operation(summary, headers=(TOWNSHIP,) if "public" in roles else (), body=body,
                          response=mt.TopicViewSchema, errors=(400, 404, 409, 422), fixed={"command": command},
                          roles=roles)
                for command, (body, summary, roles) in mt.TOPIC_COMMANDS.items())
    @http("POST", "/api/v1/topics/<string:topic_id>/<string:command>")
    @api
    def topic_command(self, request, topic_id, command):
        if command not in mt.TOPIC_COMMANDS:
            raise NotFound("no such topic command", allowed=sorted(mt.TOPIC_COMMANDS))
        return json_response(200, self.meetings.act_on_topic(self._p(request), topic_id, command,
                                                             self._body(request)))
