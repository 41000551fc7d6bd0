// Intentionally empty: FuzzerEntry exports only the C symbol CloseOrderFuzzer_main (see entry.c).
