"""twine"""
