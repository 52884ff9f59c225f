"""Rule packs: YAML with positions, compiled to a typed tree; dated parameters and what-if values; lint and YAML test cases."""
