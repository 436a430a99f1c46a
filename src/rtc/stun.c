/* stun: placeholder until the module lands. */
