"""Group coordinator and the offsets store on __consumer_offsets (later issues)."""
