"""Signing: the signing configuration, schemas and bundle planning, the checks that need the HSM or
the previous response, and the pipeline shared by `ceremony sign` and the console.

    config     the signing configuration file (KSK definitions, KSK policy, schemas, HSM profile)
    bundles    schemas and the assembly of signed bundles (pure: the signing function is handed in)
    checks     checks that need the HSM, the configuration or the previous response
    pipeline   prepare (plan and check) and sign_plan (sign, write, validate the whole response)
    offline_ksk_config   the [offline_ksk] table: how Knot DNS / BIND 9 requests are signed
    offline_ksk_bundles  their bundles by Knot's or BIND's rules, the RRSIGs, the response bytes
"""
