"""ACLs as Kafka's StandardAuthorizer keeps them, sans-io: the bindings and filters
(:mod:`.model`), the decision for one action (:mod:`.authorizer`) and the controller's
create/delete validation turned into metadata records (:mod:`.control`)."""
