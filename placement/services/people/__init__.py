"""Finding people: search by reference or file number, the city-wide lists of youths
placed and absconded, and what the stay page shows beyond the stay (its history from the
audit trail, the other siblings). Every search and list of persons is audited."""
