/** What building a shipped recipe's image takes besides the engine. */
export interface RecipeOptions {
  cacheDir: string;
  signal?: AbortSignal;
  /** One line of progress: a build step, a debootstrap stage. */
  onProgress?: (line: string) => void;
  /** Build again even when the engine has the image of this recipe already. */
  rebuild?: boolean;
  /** The Debian mirror for debootstrap recipes, instead of the one apt is configured with. */
  mirror?: string;
}
