/* rtcp: placeholder until the module lands. */
