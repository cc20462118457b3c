"""Test helpers shared across the suite (throwaway servers, fixtures' building blocks)."""
