"""Foundation layer: settings, the store (schema, engine, migrations, scoped loaders), trust (access policy,
masking, sign-in, audit) and safe writers. It imports nothing from ``geo``, ``planning`` or ``dashboard``."""
