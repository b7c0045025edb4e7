"""FERSmile-v0: tune an emoticon until a simulated viewer smiles (after DeepLaetitia)."""
