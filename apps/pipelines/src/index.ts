/** The declarative pipeline files (placeholder until the first module lands). */
export {};
