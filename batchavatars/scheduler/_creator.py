"""Creating one item: upload what is local, record the intent, POST, then ask for consent where a
digital twin needs it. The intent (status `creating` and its Idempotency-Key) is committed before
the POST leaves, so a run killed anywhere resumes with the same key and no duplicate."""

from __future__ import annotations

from functools import partial
from typing import Any

from ..client import Created
from ..meter import Slot
from ..payload import consent_key, create_body, idempotency_key
from ..records import SENT, ErrorSource, Status
from ..requester import Abandoned, ItemFailed
from ._graph import Node, is_twin
from ._phase import Phase
from ._run import Run
from ._timing import LOOKS_PAGE


class Creator:
    """Creates items one at a time per worker; owns the counts of creations and consent requests
    and asks for consent at most once per item per run."""

    def __init__(self, run: Run) -> None:
        self._run = run
        self.creations = 0
        self.consent_requests = 0
        self._consent_asked: set[str] = set()
        self._fresh: set[str] = set()  # items whose key is being sent for the first time

    async def create(self, node: Node) -> None:
        run = self._run
        try:
            async with run.gate.admit() as slot:  # answered or given up: `started()` takes over if it trains
                if run.stopping:
                    raise Abandoned(sent=False)
                created = await self._submit(node, slot)
                first = node.key in self._fresh
        except ItemFailed as failure:
            if failure.source is ErrorSource.TRANSPORT and node.record.status == Status.CREATING:
                run.no_answer(node, failure.code, failure.message)
            else:
                run.fail(node, failure.code, failure.message, failure.source, **failure.envelope)
            return
        except Abandoned as stopped:
            if not stopped.sent and node.key in self._fresh and node.record.status == Status.CREATING:
                run.book.unsend(node.record)  # this key never left: as if never tried (e.g. after a 402)
            raise
        finally:
            self._fresh.discard(node.key)
        await self._accepted(node, created, first)

    async def _accepted(self, node: Node, created: Created, first: bool) -> None:
        """HeyGen took the creation: the look is recorded (whose it is said), watched, and consent asked."""
        run = self._run
        if not created.replayed:
            self.creations += 1  # credits are spent by what HeyGen made, not by a replay of it
        group = created.group
        look = created.look or await self._find(node, group)
        if look is None:
            message = "HeyGen answered without the new look, and none by its name is in its group yet"
            run.no_answer(node, "look_not_in_answer", message)
            return
        run.note_group(group)
        status = look.get("status")
        waits = is_twin(node) and run.group_wait.get(str(group.get("id"))) is True
        origin = "adopted" if first and self._made_elsewhere(node, look, group) else None
        rec = run.book.accept(node.record, look, group, consent=status == "pending_consent" or waits, origin=origin)
        run.report(
            "item_created",
            key=node.key,
            attempt=rec.attempts,
            look_id=rec.look_id,
            group_id=rec.group_id,
            status=status,
            origin=origin,
        )
        run.satisfy(node, "group")
        run.start_watching(node)
        run.observe(node, look)
        if self.wants_consent(node):
            await self.consent(node)

    def _made_elsewhere(self, node: Node, look: dict[str, Any], group: dict[str, Any]) -> bool:
        """The answer to a key sent for the first time replays another ledger's creation (ownership.py)."""
        spec = node.spec
        new_group = spec.parent is None and spec.kind == "avatar" and not spec.avatar_group_id
        return self._run.owners.made_elsewhere(look, group, node.record.sent_at, new_group=new_group)

    async def rename(self, node: Node) -> None:
        """PATCH the look's name: no credit, no new id. A refusal leaves the item as it was (changed)."""
        run, rec, spec = self._run, node.record, node.spec
        try:
            await run.requests.call(
                partial(run.client.rename_look, rec.look_id or "", spec.name), what="rename", item=spec.key
            )
        except ItemFailed as failure:
            run.report("rename_failed", key=spec.key, error_code=failure.code, error_message=failure.message)
            node.move(Phase.DONE)
            return
        old = rec.name
        run.book.renamed(rec, spec)
        node.move(Phase.DONE)
        run.report("item_renamed", key=spec.key, look_id=rec.look_id, old_name=old, name=spec.name)

    async def _find(self, node: Node, group: dict[str, Any]) -> dict[str, Any] | None:
        """A 2xx with a null avatar_item: the look is the one of this name in the answer's group
        that no other record holds. None when there is not exactly one."""
        run, group_id = self._run, str(group.get("id") or "")
        try:
            page = await run.requests.call(
                partial(run.client.list_looks, group_id=group_id, limit=LOOKS_PAGE), what="find", item=node.key
            )
        except ItemFailed:
            return None
        taken = {n.record.look_id for n in run.nodes.values() if n.record.look_id}
        found = [lk for lk in page.items if lk.get("name") == node.spec.name and lk.get("id") not in taken]
        return {**found[0], "group_id": found[0].get("group_id") or group_id} if len(found) == 1 else None

    async def _submit(self, node: Node, slot: Slot) -> Created:
        run, spec, rec = self._run, node.spec, node.record
        assets = {}
        for ref in (spec.file, *spec.reference_images):
            if ref is not None and ref.kind == "path":
                try:
                    assets[ref.value] = await run.assets.asset_id(ref.value, ref.sha256)
                except OSError as exc:  # validated at load, but gone or changed since
                    message = f"{ref.value}: {exc.strerror or exc}"
                    raise ItemFailed("file_unreadable", message, ErrorSource.LOCAL) from None
        parent = run.graph.parent(node)
        body = create_body(
            spec,
            parent_look_id=parent.record.look_id if parent and node.step.need == "look" else None,
            parent_group_id=parent.record.group_id if parent else None,
            assets=assets,
        )
        if rec.status in SENT and rec.idempotency_key:
            key = rec.idempotency_key  # may have reached HeyGen: the same request again, never a new key
        else:
            key = idempotency_key(spec, body, rec.generation)
            self._fresh.add(node.key)
        run.book.submit(rec, key)
        run.report("item_submitting", key=spec.key, attempt=rec.attempts)
        return await run.requests.call(
            partial(run.client.create_avatar, body, key), what="create", item=spec.key, slot=slot
        )

    def wants_consent(self, node: Node) -> bool:
        """A twin whose group waits and has no link yet. Consent is the group's: a link another twin
        of the group already holds is shared, not asked for again."""
        rec, run = node.record, self._run
        if not is_twin(node) or rec.status != Status.AWAITING_CONSENT or rec.consent_url or run.stopping:
            return False
        held = next((n.record.consent_url for n in self._same_group(node) if n.record.consent_url), None)
        if held:
            run.book.consent_link(rec, held)
            run.report("consent_requested", key=node.key, consent_url=held)
            return False
        return (rec.group_id or "") not in self._consent_asked

    def _same_group(self, node: Node) -> list[Node]:
        group = node.record.group_id
        return [n for n in self._run.nodes.values() if group and n.record.group_id == group and is_twin(n)]

    async def consent(self, node: Node) -> None:
        run, rec, spec = self._run, node.record, node.spec
        self._consent_asked.add(rec.group_id or "")  # once per group and run: polls must not ask again meanwhile
        request = partial(
            run.client.request_consent,
            rec.group_id or "",
            consent_key(spec.consent_reroute_url, rec.generation),
            spec.consent_reroute_url,
        )
        try:
            group, url = await run.requests.call(request, what="consent", item=spec.key)
        except ItemFailed as failure:
            run.book.consent_failed(rec, failure.code, failure.message, failure.source)
            run.report("consent_failed", key=spec.key, error=failure.code)
            return
        except Abandoned:
            return
        self.consent_requests += 1
        if group:
            run.note_group(group)
        for twin in self._same_group(node):
            if twin.record.status == Status.AWAITING_CONSENT and not twin.record.consent_url:
                run.book.consent_link(twin.record, url or "(consent video on file)")
                run.report("consent_requested", key=twin.key, consent_url=url)
