"""securestack components: one ComponentResource per concern, one file each."""
