"""Small helpers every other layer may use: the cache directory and atomic writes (:mod:`.cache`), files of
tensors that load without running code (:mod:`.serialization`), seeding,
devices and threads (:mod:`.seeding`), argument checks (:mod:`.checks`), the emotion vocabulary
(:mod:`.emotions`), classification metrics (:mod:`.metrics`) and figure helpers (:mod:`.plotting`).
Nothing in ``core`` imports another part of the package."""
