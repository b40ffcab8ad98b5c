"""Each chapter's steps (sample → prepare → train → evaluate), shared by its notebooks."""
