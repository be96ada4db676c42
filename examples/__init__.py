"""Examples: the demo, custom tool servers, client configuration snippets."""
