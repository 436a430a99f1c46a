/* srtp: placeholder until the module lands. */
