# Engines: the local side of a collection. The factory is always there; each engine's sources
# come from its own folder's module.mk when its CONFIG_DS_ENGINE_* is on.
lib-y += component/engine/engines.c
