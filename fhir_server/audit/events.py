"""AuditEvents in the shape of IHE Basic Audit Log Patterns (BALP), for REST access and sign-in.

https://profiles.ihe.net/ITI/BALP/ — one event per access: who (user, app, role), what
(resources or the query), when, from where, and the outcome. Built as plain FHIR R4 JSON;
`recorded` is an R4 instant string.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime

_DCM = "http://dicom.nema.org/resources/ontology/DCM"
_REST = {
    "system": "http://terminology.hl7.org/CodeSystem/audit-event-type",
    "code": "rest",
    "display": "RESTful Operation",
}
_INTERACTION = "http://hl7.org/fhir/restful-interaction"
_ENTITY_TYPE = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
_OBJECT_ROLE = "http://terminology.hl7.org/CodeSystem/object-role"
_DATA = {"system": _ENTITY_TYPE, "code": "2", "display": "System Object"}
_REQUEST_ID = {
    "system": "https://profiles.ihe.net/ITI/BALP/CodeSystem/BasicAuditEntityType",
    "code": "XrequestId",
    "display": "transport specific unique identifier where http X-Request-Id is used",
}
_SOURCE = {
    "observer": {"display": "fhir-server"},
    "type": [
        {
            "system": "http://terminology.hl7.org/CodeSystem/security-source-type",
            "code": "4",
            "display": "Application Server",
        }
    ],
}
_LOGIN = {"system": _DCM, "code": "110114", "display": "User Authentication"}

ACTIONS = {
    "create": "C",
    "read": "R",
    "vread": "R",
    "history-instance": "R",
    "history-type": "R",
    "history-system": "R",
    "search-type": "E",
    "search-system": "E",
    "search-compartment": "E",
    "update": "U",
    "patch": "U",
    "delete": "D",
    "batch": "E",
    "transaction": "E",
    "operation": "E",
}
"""restful-interaction code → AuditEvent.action (C R U D E)."""

SUCCESS, MINOR_FAILURE, SERIOUS_FAILURE, MAJOR_FAILURE = "0", "4", "8", "12"


@dataclass(frozen=True)
class Actor:
    """Who acted: the signed-in user (username, FHIR resource, role), the app, and where from."""

    client_id: str | None = None
    username: str | None = None
    fhir_user: str | None = None
    role: str | None = None
    address: str | None = None


def instant(moment: datetime) -> str:
    """`moment` as an R4 instant in UTC with milliseconds (AuditEvent.recorded)."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def outcome_of(status: int) -> str:
    """AuditEvent.outcome for an HTTP status: 0 success, 4 refused or not found, 8 server failure."""
    if status < 400:
        return SUCCESS
    return MINOR_FAILURE if status < 500 else SERIOUS_FAILURE


def _agents(actor: Actor, server: str) -> list[dict[str, object]]:
    agents: list[dict[str, object]] = []
    if actor.username or actor.fhir_user:
        user: dict[str, object] = {
            "type": {"coding": [{"system": _DCM, "code": "110153", "display": "Source Role ID"}]},
            "requestor": True,
        }
        if actor.fhir_user:
            user["who"] = {"reference": actor.fhir_user}
        if actor.username:
            user["altId"] = actor.username
        if actor.role:
            user["role"] = [{"text": actor.role}]
        agents.append(user)
    if actor.client_id:
        app: dict[str, object] = {
            "type": {"coding": [{"system": _DCM, "code": "110150", "display": "Application"}]},
            "who": {"identifier": {"system": f"{server}/auth/clients", "value": actor.client_id}},
            "requestor": not agents,
        }
        if actor.address:
            app["network"] = {"address": actor.address, "type": "2"}
        agents.append(app)
    agents.append(
        {
            "type": {"coding": [{"system": _DCM, "code": "110152", "display": "Destination Role ID"}]},
            "who": {"display": "fhir-server"},
            "requestor": not agents,
            "network": {"address": server, "type": "5"},
        }
    )
    return agents


def patient_entity(patient: str) -> dict[str, object]:
    """The BALP patient entity: the Patient (a reference) the event is about."""
    return {
        "what": {"reference": patient},
        "type": {"system": _ENTITY_TYPE, "code": "1"},
        "role": {"system": _OBJECT_ROLE, "code": "1"},
    }


def request_entity(request_id: str) -> dict[str, object]:
    """The BALP `transaction` entity: the X-Request-Id shared by every event one HTTP request caused."""
    return {"what": {"identifier": {"value": request_id}}, "type": _REQUEST_ID}


def rest_event(
    interaction: str,
    actor: Actor,
    recorded: str,
    status: int,
    server: str,
    *,
    what: list[str] | None = None,
    query: str | None = None,
    patient: str | None = None,
    description: str | None = None,
    request_id: str | None = None,
) -> dict[str, object]:
    """The AuditEvent of one FHIR REST interaction (BALP Read, Query, Create ... patterns).

    `what`: the references touched (entity role Domain Resource); `query`: the search, base64
    in an entity of role Query; `patient`: the patient in context; `request_id`: the HTTP
    request's X-Request-Id (BALP's `transaction` entity).
    """
    entities: list[dict[str, object]] = [
        {"what": {"reference": reference}, "type": _DATA, "role": {"system": _OBJECT_ROLE, "code": "4"}}
        for reference in what or []
    ]
    if query is not None:
        entities.append(
            {
                "type": _DATA,
                "role": {"system": _OBJECT_ROLE, "code": "24"},
                "query": base64.b64encode(query.encode()).decode(),
            }
        )
    if patient:
        entities.append(patient_entity(patient))
    if request_id:
        entities.append(request_entity(request_id))
    event: dict[str, object] = {
        "resourceType": "AuditEvent",
        "type": _REST,
        "subtype": [{"system": _INTERACTION, "code": interaction}],
        "action": ACTIONS.get(interaction, "E"),
        "recorded": recorded,
        "outcome": outcome_of(status),
        "agent": _agents(actor, server),
        "source": _SOURCE,
    }
    if description or status >= 400:
        event["outcomeDesc"] = description or f"HTTP {status}"
    if entities:
        event["entity"] = entities
    return event


def sign_in_event(
    actor: Actor,
    recorded: str,
    server: str,
    *,
    succeeded: bool,
    what: str = "login",
    description: str | None = None,
    request_id: str | None = None,
    patient: str | None = None,
) -> dict[str, object]:
    """The AuditEvent of a sign-in, sign-out or token event (`what`: login, logout, token, revoke,
    launch ...); `patient`: the patient it concerns (an EHR launch's)."""
    event: dict[str, object] = {
        "resourceType": "AuditEvent",
        "type": _LOGIN,
        "subtype": [{"system": "urn:fhir-server:auth-event", "code": what}],
        "action": "E",
        "recorded": recorded,
        "outcome": SUCCESS if succeeded else MINOR_FAILURE,
        "agent": _agents(actor, server),
        "source": _SOURCE,
    }
    if description:
        event["outcomeDesc"] = description
    entities = [entity for entity in (patient and patient_entity(patient), request_id and request_entity(request_id))
                if entity]  # fmt: skip
    if entities:
        event["entity"] = entities
    return event
