/* sdp: placeholder until the module lands. */
