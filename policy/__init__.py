"""The securestack policy pack (CrossGuard) and its offline harness."""
