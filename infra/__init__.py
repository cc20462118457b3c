"""securestack stack program, validated settings, and the offline recording engine."""
