"""JobStore and LaunchPad from one MongoDB URI (embedded server or a real MongoDB).

``settings.db_uri`` is the only switch: the default points at the embedded server of
``ionflow db start``; any MongoDB URI (``mongodb://user:pw@host:port/db?authSource=admin
&tls=true``, ``mongodb+srv://...``) uses a real MongoDB instead. Task documents go to the
``outputs`` collection, large data (``@job(data=...)``) to the GridFS bucket
``outputs_blobs`` of the same database, FireWorks to its usual collections.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from ionflow.errors import IonflowInputError

if TYPE_CHECKING:
    from fireworks import LaunchPad
    from jobflow import JobStore

    from ionflow.db.outage import OutagePolicy
    from ionflow.settings import IonflowSettings

DOCS_COLLECTION = "outputs"
DATA_COLLECTION = "outputs_blobs"


def _settings(settings: IonflowSettings | None) -> IonflowSettings:
    if settings is not None:
        return settings
    from ionflow.settings import get_settings

    return get_settings()


def database_name(uri: str, default: str = "ionflow") -> str:
    """Return the database named in a MongoDB ``uri``, or ``default`` if it names none.

    Raises:
        IonflowInputError: if ``uri`` is not a ``mongodb://`` or ``mongodb+srv://`` URI.
    """
    parts = urlsplit(uri)
    if parts.scheme not in ("mongodb", "mongodb+srv") or not parts.netloc:
        raise IonflowInputError(
            f"db_uri '{uri}' is not a MongoDB URI (expected mongodb://host:port/database)"
        )
    return unquote(parts.path.lstrip("/")) or default


def get_jobstore(settings: IonflowSettings | None = None, database: str | None = None) -> JobStore:
    """Return a jobflow JobStore: documents in MongoDB, the ``data`` store in GridFS.

    Args:
        settings: ionflow settings (default: :func:`ionflow.settings.get_settings`).
        database: Database name, overriding the one in ``settings.db_uri``.

    Returns:
        A JobStore (not yet connected) whose ``additional_stores`` has ``data``.
    """
    from jobflow import JobStore
    from maggma.stores import GridFSStore, MongoStore

    settings = _settings(settings)
    uri = settings.db_uri
    database = database or database_name(uri, settings.db_name)
    docs = MongoStore(database=database, collection_name=DOCS_COLLECTION, uri=uri)
    data = GridFSStore(database=database, collection_name=DATA_COLLECTION, uri=uri)
    return JobStore(docs, additional_stores={"data": data})


def get_launchpad(
    settings: IonflowSettings | None = None, database: str | None = None, strm_lvl: str = "INFO"
) -> LaunchPad:
    """Return a FireWorks LaunchPad on the same MongoDB URI as the JobStore.

    Args:
        settings: ionflow settings (default: :func:`ionflow.settings.get_settings`).
        database: Database name, overriding the one in ``settings.db_uri``.
        strm_lvl: level of FireWorks' log lines on stdout (``WARNING``: quiet, for
            commands that print their own summary or JSON).
    """
    from fireworks import LaunchPad

    settings = _settings(settings)
    uri = settings.db_uri
    database = database or database_name(uri, settings.db_name)
    return LaunchPad(host=uri, name=database, uri_mode=True, strm_lvl=strm_lvl)


def outage_policy(settings: IonflowSettings | None = None) -> OutagePolicy:
    """How workers ride out a database outage (setting ``db_outage_wait_s``)."""
    from ionflow.db.outage import OutagePolicy

    return OutagePolicy(wait_s=_settings(settings).db_outage_wait_s)


def worker_launchpad(lpad: LaunchPad, settings: IonflowSettings | None = None) -> LaunchPad:
    """Make ``lpad`` ride out a database outage while it runs jobs (in place; returns it)."""
    from ionflow.db.outage import outage_tolerant_launchpad

    return outage_tolerant_launchpad(lpad, outage_policy(settings))


def worker_jobstore(store: JobStore, settings: IonflowSettings | None = None) -> JobStore:
    """Return ``store`` as one that rides out a database outage while it runs jobs."""
    from ionflow.db.outage import outage_tolerant_jobstore

    return outage_tolerant_jobstore(store, outage_policy(settings))


def redacted_uri(uri: str) -> str:
    """Return ``uri`` with any password replaced by ``***`` (for messages and logs)."""
    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def check_database(
    settings: IonflowSettings | None = None, timeout_s: float = 3.0, launchpad: bool = False
) -> None:
    """Check that the database of ``settings.db_uri`` answers, before anything runs.

    Args:
        settings: ionflow settings (default: :func:`ionflow.settings.get_settings`).
        timeout_s: how long to wait for the server.
        launchpad: also require an initialised FireWorks LaunchPad in the database.

    Raises:
        IonflowInputError: one line: unreachable server, refused credentials, or no
            LaunchPad, with what to do (the password is never printed).
    """
    import pymongo
    from pymongo.errors import OperationFailure, PyMongoError

    settings = _settings(settings)
    uri = settings.db_uri
    database = database_name(uri, settings.db_name)
    shown = redacted_uri(uri)
    client = pymongo.MongoClient(
        uri, serverSelectionTimeoutMS=int(timeout_s * 1000), connectTimeoutMS=int(timeout_s * 1000)
    )
    try:
        client.admin.command("ping")
        if launchpad and client[database]["fw_id_assigner"].find_one() is None:
            raise IonflowInputError(
                f"no FireWorks LaunchPad in database '{database}' at {shown}: nothing was "
                "submitted there yet (`ionflow submit SPEC` initialises it)"
            )
    except OperationFailure as exc:
        raise IonflowInputError(
            f"the database at {shown} refused the request (code {exc.code}): check the user, "
            "password and authSource in db_uri"
        ) from exc
    except PyMongoError as exc:
        raise IonflowInputError(
            f"cannot reach the database at {shown} ({exc.__class__.__name__}); start the "
            "embedded one with `ionflow db start` or set db_uri"
        ) from exc
    except (KeyError, ValueError, TypeError) as exc:
        if urlsplit(uri).username is None:
            raise
        # a server without users (the embedded one) breaks off the SASL login this way
        raise IonflowInputError(
            f"the database at {shown} did not complete the login ({exc.__class__.__name__}); "
            "check the user, password and authSource in db_uri (the embedded server takes "
            "no credentials)"
        ) from exc
    finally:
        client.close()
