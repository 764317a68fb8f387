"""检索词典 · the search dictionary: admin-managed synonym and abbreviation entries (公租房 / 公共租赁住房), versioned.

Every change of the search vocabulary — a synonym entry created, updated or deleted, an organ registered or renamed —
bumps the one-row search_dictionary_state.version in the same transaction. Each process keeps the vocabulary it
built (organ names and short names, synonym groups; domain/query.py Vocabulary) under the version it read, and one
primary-key read per search tells it whether to rebuild: an edit takes effect at the next search, with no reindexing.
"""

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from catalog_service.domain.query import Vocabulary
from catalog_service.errors import SynonymNotFound
from catalog_service.models import Organ, SearchDictionaryState, SearchSynonym, outbox
from catalog_service.schemas import SynonymCreate, SynonymRead, SynonymUpdate
from services.concurrency import bump_version, require_if_match
from services.db import utcnow
from services.outbox import record_event
from services.pagination import keyset_page

__all__ = ["VocabularyCache", "bump_dictionary", "create_synonym", "delete_synonym", "dictionary_version",
           "get_synonym", "list_synonyms", "update_synonym"]


async def dictionary_version(session: AsyncSession) -> int:
    return (await session.execute(select(SearchDictionaryState.version).where(SearchDictionaryState.id == 1))
            ).scalar_one_or_none() or 0


async def bump_dictionary(session: AsyncSession) -> None:
    """A new version of the search vocabulary (the row is inserted by migration catalog_0006)."""
    result = await session.execute(update(SearchDictionaryState).where(SearchDictionaryState.id == 1)
                                   .values(version=SearchDictionaryState.version + 1, updated_at=utcnow()))
    if result.rowcount == 0:
        session.add(SearchDictionaryState(id=1, version=1))
        await session.flush()


class VocabularyCache:
    """Per process: the vocabulary of the newest dictionary version read (state["search_vocabulary"]), and the
    organs' codes and names as of that version (organ facet labels: creating or renaming an organ bumps it)."""

    def __init__(self) -> None:
        self._vocabulary: Vocabulary | None = None
        self._organ_labels: dict[str, tuple[str, str]] = {}

    async def current(self, session: AsyncSession, version: int | None = None) -> Vocabulary:
        """The vocabulary of `version` (read here when not given: search reads it with its snapshot)."""
        return (await self.current_with_organs(session, version))[0]

    async def current_with_organs(self, session: AsyncSession, version: int | None = None
                                  ) -> tuple[Vocabulary, dict[str, tuple[str, str]]]:
        if version is None:
            version = await dictionary_version(session)
        cached, labels = self._vocabulary, self._organ_labels
        if cached is not None and cached.version == version:
            return cached, labels
        organs = (await session.execute(select(Organ.id, Organ.code, Organ.name, Organ.short_name))).all()
        groups = (await session.execute(select(SearchSynonym.words))).scalars().all()
        vocabulary = Vocabulary.build(version, [w for o in organs for w in (o.name, o.short_name) if w], groups)
        labels = {o.id: (o.code, o.name) for o in organs}
        self._vocabulary, self._organ_labels = vocabulary, labels
        return vocabulary, labels


def _event(session: AsyncSession, synonym: SearchSynonym, kind: str) -> None:
    # The audit entry of the request names the entry and version through this event (services/audit.py).
    record_event(session, outbox, f"search_synonym.{kind}", entity_type="search_synonym", entity_id=synonym.id,
                 version=synonym.version, payload=SynonymRead.model_validate(synonym).model_dump(mode="json"))


async def get_synonym(session: AsyncSession, synonym_id: str) -> SearchSynonym:
    synonym = await session.get(SearchSynonym, synonym_id)
    if synonym is None:
        raise SynonymNotFound(f"Synonym entry {synonym_id} does not exist.")
    return synonym


async def list_synonyms(session: AsyncSession, cursor: str | None, limit: int) -> tuple[list[SearchSynonym],
                                                                                        str | None]:
    return await keyset_page(session, select(SearchSynonym),
                             [(SearchSynonym.created_at, False), (SearchSynonym.id, False)], cursor, limit,
                             key=lambda s: [s.created_at.isoformat(), s.id])


async def create_synonym(session: AsyncSession, data: SynonymCreate) -> SearchSynonym:
    synonym = SearchSynonym(words=data.words, note=data.note, version=1)
    session.add(synonym)
    await session.flush()
    await bump_dictionary(session)
    _event(session, synonym, "created")
    return synonym


async def update_synonym(session: AsyncSession, synonym_id: str, data: SynonymUpdate,
                         if_match: str | None) -> SearchSynonym:
    synonym = await get_synonym(session, synonym_id)
    require_if_match(if_match, synonym.version)
    await bump_version(session, synonym, synonym.version)
    for key, value in data.model_dump(exclude_unset=True).items():
        if key == "words" and value is None:
            continue
        setattr(synonym, key, value)
    synonym.updated_at = utcnow()
    await session.flush()
    await bump_dictionary(session)
    _event(session, synonym, "updated")
    return synonym


async def delete_synonym(session: AsyncSession, synonym_id: str, if_match: str | None) -> None:
    synonym = await get_synonym(session, synonym_id)
    require_if_match(if_match, synonym.version)
    await bump_version(session, synonym, synonym.version)
    _event(session, synonym, "deleted")
    await session.delete(synonym)
    await session.flush()
    await bump_dictionary(session)
