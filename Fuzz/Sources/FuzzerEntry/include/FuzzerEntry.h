// Intentionally empty: FuzzerEntry exports only the C symbols CloseOrderFuzzer_main and
// V3AnswerFuzzer_main (see entry.c).
