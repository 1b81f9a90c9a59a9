"""The web layer of the card catalog: the catalog page, the catalog API, a card's outputs for
chosen options, and the choices a connection's option sources load."""
