"""The rule language: lexer, parser, type checker and Kleene evaluator of expressions."""
