/** The web studio (placeholder until the first module lands). */
export {};
