"""Share groups (KIP-932) in the group coordinator: the group's rules (:mod:`.group`), its
records on ``__consumer_offsets`` (:mod:`.records`) and the service the handlers call
(:mod:`.service`)."""
