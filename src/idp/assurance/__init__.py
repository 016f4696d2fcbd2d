"""Assurance levels: their names, what a relying party may demand of them, and the claims that
carry them. Small and low in the layers, because clients, tokens and pages all read it; how an
account earns a level lives in ``idp.levels``."""
