#!/usr/bin/env python3
"""hello-peers in Python ops: the same logic as the Rust example.

The leader shares its `greeting` config in the peer app databag (deferring
until the peer relation exists); followers copy it into their unit databag
as `seen-greeting` (deferring until the leader shared one).
"""

import ops

PEERS = "replicas"


class HelloPeersCharm(ops.CharmBase):
    _stored = ops.StoredState()

    def __init__(self, framework):
        super().__init__(framework)
        self._stored.set_default(events_seen=0, last_greeting="")
        framework.observe(self.on.install, self._count)
        framework.observe(self.on.start, self._count)
        framework.observe(self.on.config_changed, self._on_config_changed)
        framework.observe(self.on[PEERS].relation_created, self._count)
        framework.observe(self.on[PEERS].relation_changed, self._on_peers_changed)
        framework.observe(self.on.events_seen_action, self._on_events_seen)
        framework.observe(self.on.collect_unit_status, self._on_collect_status)

    def _count(self, _event):
        self._stored.events_seen += 1

    def _on_config_changed(self, event):
        self._stored.events_seen += 1
        if not self.unit.is_leader():
            return
        peers = self.model.get_relation(PEERS)
        if peers is None:
            event.defer()
            return
        greeting = str(self.config.get("greeting", "hello"))
        peers.data[self.app]["greeting"] = greeting
        self._stored.last_greeting = greeting

    def _on_peers_changed(self, event):
        self._stored.events_seen += 1
        if self.unit.is_leader():
            return
        greeting = event.relation.data[self.app].get("greeting")
        if not greeting:
            event.defer()
            return
        event.relation.data[self.unit]["seen-greeting"] = greeting
        self._stored.last_greeting = greeting

    def _on_events_seen(self, event):
        event.set_results({"events-seen": str(self._stored.events_seen)})

    def _on_collect_status(self, event):
        if self._stored.last_greeting:
            event.add_status(ops.ActiveStatus(f"greeting: {self._stored.last_greeting}"))
        else:
            event.add_status(ops.WaitingStatus("no greeting yet"))


if __name__ == "__main__":
    ops.main(HelloPeersCharm)
