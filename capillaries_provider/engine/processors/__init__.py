"""Node processors: one module per node type, looked up through `registry.processor_for(node_type)`."""
