// Placeholder so the package loads while this target is being written; the lead deletes it.
